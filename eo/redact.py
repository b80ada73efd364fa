"""Credentials kept out of text meant for people and logs: signed URLs, tokens, passwords (pure).

Asset hrefs of commercial and cloud archives are often signed (a SAS token, an S3 pre-signed URL,
``?token=``): an error message, a log line or a run report that repeats such a URL leaks a
credential into log files and reports that many people read.  :func:`redact_url` replaces the
value of every query parameter that looks like a credential, and the password of a
``user:password@`` part, with ``***``; :func:`redact` does it to every URL inside a text.
Everything else (host, path, search parameters such as ``bbox``) is kept, so the text still says
what was asked of whom.

>>> redact_url("https://h.example/a.tif?st=2025&se=2026&sig=Zm9v%2Fbar&sp=r")
'https://h.example/a.tif?st=2025&se=2026&sig=***&sp=r'
>>> redact("cannot read https://u:pw@h.example/b.tif?X-Amz-Signature=abc: 403")
'cannot read https://u:***@h.example/b.tif?X-Amz-Signature=***: 403'
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

#: Query parameter names (lower case) whose value is a credential, besides :data:`SECRET_PARTS`.
SECRET_NAMES = frozenset({"sig", "code", "policy", "key-pair-id", "googleaccessid", "skt", "ske", "sks"})
#: A query parameter whose lower-case name contains one of these holds a credential.
SECRET_PARTS = ("token", "secret", "signature", "password", "passwd", "apikey", "api_key", "credential",
                "auth", "session", "access_key", "accesskey", "private")  # fmt: skip
#: What replaces a credential.
MASK = "***"

_URL = re.compile(r"""(?:https?|s3|gs|az|abfss?)://[^\s'"<>()\[\]{}`]+""", re.IGNORECASE)
_PARAM = re.compile(r"([?&;])([^=&;#]+)=([^&;#]*)")


def is_secret(name: str) -> bool:
    """Whether a query parameter of this name carries a credential."""
    low = name.lower()
    return low in SECRET_NAMES or any(part in low for part in SECRET_PARTS) or low == "key"


def redact_url(url: str) -> str:
    """``url`` with credential query values and any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if sep else f"{MASK}@{host}"
    query = _PARAM.sub(
        lambda m: f"{m.group(1)}{m.group(2)}={MASK if is_secret(m.group(2)) else m.group(3)}",
        "?" + parts.query,
    )[1:]
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    if "://" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        tail = len(url) - len(url.rstrip(".,:;!?"))  # sentence punctuation after a URL is not part of it
        return redact_url(url[: len(url) - tail]) + url[len(url) - tail :]

    return _URL.sub(one, text)
