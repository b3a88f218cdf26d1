"""`semcom web`: the browser page, a client of the three services (``semcom.web.app``)."""
