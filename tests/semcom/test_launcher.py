"""`semcom up`'s port check (semcom.launcher.port_in_use): a listening server counts, the closed connections a
server that just stopped leaves behind (TIME_WAIT) do not, so services start right after others stopped."""

import socket

from semcom.launcher import port_in_use


def test_a_listener_counts_and_a_stopped_servers_closed_connections_do_not():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server closes first: its side of the connection waits in TIME_WAIT
        client.recv(1)
        client.close()
    with socket.socket() as plain:  # a bind without SO_REUSEADDR still meets the TIME_WAIT connection
        try:
            plain.bind(("127.0.0.1", port))
            waiting = False
        except OSError:
            waiting = True
    assert waiting, "the kernel kept no TIME_WAIT connection: the test shows nothing"
    assert not port_in_use("127.0.0.1", port)
