"""The page server's request checks and error mapping, without services or a browser."""

import base64

import grpc
import numpy as np
import pytest
from PIL import Image

from semcom.web.guard import LOOPBACK, _host_name, allowed_hosts
from semcom.web.requests import HTTP_OF, WebError, _grpc_error, image_bytes, parse_body, settings_of
from semcom.web.examples import EXAMPLES, ExampleError, add_examples, example_png
from shared.imageio import open_rgb


def test_examples_are_the_same_every_time_and_the_first_is_a_photograph():
    for name in EXAMPLES:
        data = example_png(name)
        assert data == example_png(name) and data.startswith(b"\x89PNG")
        assert min(open_rgb(data).size) >= 256
    assert open_rgb(example_png("street")).size == (480, 360)
    assert next(iter(EXAMPLES)) == "portrait" and open_rgb(example_png("portrait")).size == (512, 600)


def test_an_upload_is_a_data_url_or_base64():
    png = example_png("shapes")
    assert image_bytes({"image": "data:image/png;base64," + base64.b64encode(png).decode()}) == png
    assert image_bytes({"image": base64.b64encode(png).decode()}) == png
    assert image_bytes({"example": "shapes"}) == png


@pytest.mark.parametrize("body, status, text", [
    ({}, 400, "upload a PNG or JPEG, or pick an example"),
    ({"image": "not base64!!"}, 400, "not valid base64"),
    ({"example": "nope"}, 400, "no example called 'nope'"),
])
def test_bad_images_are_one_message(body, status, text):
    with pytest.raises(WebError, match=text) as info:
        image_bytes(body)
    assert info.value.status == status


@pytest.mark.parametrize("body, text", [
    ({"channel": "vacuum"}, "unknown channel 'vacuum'"),
    ({"snr_db": "loud"}, "snr_db must be a number"),
    ({"snr_db": 99}, "between -10.0 and 40.0"),
    ({"block_len": -1}, "block_len must be between"),
    ({"seed": -5}, "seed must be between"),
])
def test_bad_channel_settings_are_400(body, text):
    with pytest.raises(WebError, match=text) as info:
        settings_of(body)
    assert info.value.status == 400


def test_channel_settings_as_the_page_sends_them():
    s = settings_of({"channel": "rayleigh", "snr_db": 7.5, "csi": False, "block_len": 64.0, "seed": 3})
    assert (s.model, s.snr_db, s.csi, s.block_len, s.seed) == ("rayleigh", 7.5, False, 64, 3)


@pytest.mark.parametrize("body, text", [
    ({"csi": "false"}, r'csi must be one of perfect, estimated, none \(or true/false\), not "false"'),
    ({"snr_db": True}, "snr_db must be a number, not true"),
    ({"snr_db": "7.5"}, 'snr_db must be a number, not "7.5"'),
    ({"block_len": 1.9}, "block_len must be a whole number, not 1.9"),
    ({"channel": 3}, "channel must be a string, not 3"),
    ({"channel": "rician", "params": {"k_factor": "9"}}, 'k_factor must be a number, not "9"'),
    ({"channel": "rician", "params": {"k_factor": -1}}, "k_factor must be between 0.0 and"),
    ({"channel": "rician", "params": {"doppler": 1}}, "doppler"),
    ({"channel": "awgn", "params": {"k_factor": 3}}, "k_factor"),
    ({"channel": "rician", "params": [9]}, "params must be an object"),
])
def test_types_are_checked_not_coerced(body, text):
    with pytest.raises(WebError, match=text) as info:
        settings_of(body)
    assert info.value.status == 400


def test_the_channel_models_own_parameters_come_from_the_model_table():
    s = settings_of({"channel": "rician", "params": {"k_factor": 9}})
    assert s.model == "rician" and dict(s.params) == {"k_factor": 9.0}
    assert dict(settings_of({"channel": "rician"}).params) == {}  # the model's default (K = 3) at the channel


@pytest.mark.parametrize("raw, text", [
    (b'{"snr_db": Infinity}', "Infinity is not a JSON number"),
    (b'{"snr_db": NaN}', "NaN is not a JSON number"),
    (b'{"snr_db": 1e400}', "too large"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
])
def test_bodies_are_strict_json(raw, text):
    with pytest.raises(WebError, match=text) as info:
        parse_body(raw)
    assert info.value.status == 400


def test_host_names_without_their_ports():
    assert _host_name("[::1]:8080") == "::1" and _host_name("Example.ORG:80") == "example.org"
    assert _host_name("127.0.0.1") == "127.0.0.1" and _host_name("::1") == "::1"
    assert allowed_hosts("0.0.0.0", [""]) == LOOPBACK
    assert allowed_hosts("10.0.0.5", ["semcom.lab, other"]) == LOOPBACK | {"10.0.0.5", "semcom.lab", "other"}
    assert allowed_hosts("127.0.0.1", ["*"]) is None


class _Err(grpc.RpcError):
    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


def test_service_errors_keep_their_code_and_message():
    e = _grpc_error(_Err(grpc.StatusCode.INVALID_ARGUMENT, "matches no known task"), "transmitter", "h:1")
    assert e.status == 400 and str(e) == "INVALID_ARGUMENT: matches no known task"
    e = _grpc_error(_Err(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: "
                                                      "ipv4:127.0.0.1:9: Failed to connect to remote host: connect: "
                                                      "Connection refused (111)"), "receiver", "127.0.0.1:9")
    assert e.status == 503 and str(e) == (
        "UNAVAILABLE: the receiver at 127.0.0.1:9 is not reachable (Connection refused): is `semcom up` running, "
        "and is the address right (--receiver or SEMCOM_RECEIVER_ADDR)?")
    e = _grpc_error(_Err(grpc.StatusCode.UNAVAILABLE, "channel service at h:2 is unavailable: x"), "transmitter", "h:1")
    assert str(e) == "UNAVAILABLE: channel service at h:2 is unavailable: x"  # a service's own report, kept
    e = _grpc_error(_Err(grpc.StatusCode.UNIMPLEMENTED, "Method not found!"), "transmitter", "h:3")
    assert e.status == 502 and "the server at h:3 is not a semcom transmitter (Method not found!)" in str(e)
    assert _grpc_error(_Err(grpc.StatusCode.INTERNAL, "boom"), "x", "h:1").status == 502
    assert HTTP_OF[grpc.StatusCode.RESOURCE_EXHAUSTED] == 429


@pytest.fixture
def examples_restored():
    before = dict(EXAMPLES)
    yield
    EXAMPLES.clear()
    EXAMPLES.update(before)


def _photo(path, size=(64, 48), **save):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(path, **save)


def test_a_folder_of_photographs_becomes_examples(tmp_path, examples_restored):
    _photo(tmp_path / "b-frame.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # a phone's portrait photo: stored sideways, shown upright
    _photo(tmp_path / "a_frame.JPG", exif=exif.tobytes())
    Image.fromarray(np.full((40, 30), 65535, np.uint16)).save(tmp_path / "c16.png")  # 16-bit greyscale
    (tmp_path / "notes.txt").write_text("not an image")
    added, left_out = add_examples([tmp_path])
    assert added == ["a_frame", "b-frame", "c16"] and left_out == 0 and list(EXAMPLES)[-3:] == added
    assert open_rgb(example_png("a_frame")).size == (48, 64)  # turned upright
    assert open_rgb(example_png("b-frame")).size == (64, 48)
    assert np.asarray(open_rgb(example_png("c16"))).min() == 255  # 16-bit white is white, scaled not clipped
    assert image_bytes({"example": "b-frame"}) == example_png("b-frame")


def test_examples_beyond_the_limit_are_counted_not_added(tmp_path, examples_restored):
    for i in range(3):
        _photo(tmp_path / f"f{i}.png")
    assert add_examples([tmp_path], limit=2) == (["f0", "f1"], 1) and "f2" not in EXAMPLES


@pytest.mark.parametrize("files, text", [
    ({}, "has no PNG or JPEG files"),
    ({"bad.png": b"\x89PNG\r\n\x1a\n broken"}, "bad.png: not a readable PNG or JPEG"),
    ({"my photo.png": None}, "name the file with letters, digits"),
    ({"street.png": None}, "an example called 'street' already exists"),
    ({"wide.png": (4097, 2)}, "4097x2 pixels, over the transmitter's 4096 px per side"),
    ({"a.png": None, "moving.gif.png": "GIF"}, "moving.gif.png: not a readable PNG or JPEG"),  # none added
])
def test_a_folder_that_cannot_serve_is_refused_naming_the_file(tmp_path, examples_restored, files, text):
    for name, content in files.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        elif content == "GIF":  # a format the transmitter refuses, whatever the file's name says
            _photo(tmp_path / name, format="GIF")
        else:
            _photo(tmp_path / name, **({"size": content} if content else {}))
    before = list(EXAMPLES)
    with pytest.raises(ExampleError, match=text):
        add_examples([tmp_path])
    with pytest.raises(ExampleError, match="no such file or folder"):
        add_examples([tmp_path / "missing"])
    assert list(EXAMPLES) == before


def test_web_and_up_refuse_a_bad_examples_folder_before_starting(tmp_path, capsys, monkeypatch):
    from semcom import launcher
    from semcom.web import app

    assert app.main(["--examples", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip().endswith("missing: no such file or folder")
    monkeypatch.setenv("SEMCOM_WEB_EXAMPLES", f"{tmp_path}:{tmp_path / 'gone'}")
    assert app.main([]) == 2 and "has no PNG or JPEG files" in capsys.readouterr().err
    monkeypatch.delenv("SEMCOM_WEB_EXAMPLES")
    assert launcher.main(["--web", "--examples", str(tmp_path)]) == 2  # empty: refused before any service starts
    assert "has no PNG or JPEG files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        launcher.main(["--examples", str(tmp_path)])
    assert info.value.code == 2 and "--examples is the page's: add --web" in capsys.readouterr().err
