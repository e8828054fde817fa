"""Sign-in through the city's LDAP directory (ldap3), and the directory's view of people and units.

Flow of a sign-in (LDAPBackend.authenticate):
  1. the username is checked (no NUL/control characters, valid UTF-8, at most 256 characters) and an
     empty password is refused before anything reaches the directory;
  2. a person whose account is local (source="local") is left to the local backend;
  3. the service account searches LDAP_USER_BASE with LDAP_USER_FILTER, the username escaped with
     escape_filter_chars; exactly one entry must match;
  4. a second connection binds as that entry's DN with the password given;
  5. a disabled entry is refused; otherwise the Person and their Posts are created/updated from the
     entry (unit from the ou path or the unit-code attribute, roles from groups).

Every connection: a ServerPool over LDAP_URL (fail-over), connect and receive timeouts, START_TLS or
LDAPS with certificate validation against LDAP_CA_FILE. A directory that cannot be reached raises
ActionError(503) with a Chinese message within the timeout.

A signed-in directory person is re-checked against the directory at most every LDAP_RECHECK_SECONDS
(LDAPBackend.get_user): an entry gone or disabled ends the session at the next request; a directory
outage keeps people signed in.
"""
import functools
import logging
import re
import socket
import ssl
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import audit
from office import safe_cache as cache
from office.errors import ActionError
from office.ldap_config import (DEFAULT_ATTR_MAP, DEFAULT_GROUP_ROLE_MAP, ROLES, parse_attr_map,
                                parse_group_role_map)

log = logging.getLogger("office.ldap")

MAX_USERNAME = 256
MAX_PASSWORD = 1024

FIELD_LIMITS = {"username": 150, "display_name": 100, "email": 254, "phone": 40, "title": 100}
DOWN_KEY = "yw:ldap:down"


# Why ldap_sync could not apply an entry (shown by the command and on the sync page).
CONFLICT_REASONS = {
    "ambiguous-username": gettext_lazy("用户名在目录中对应多个条目"),
    "local-account-exists": gettext_lazy("与本地账号同名"),
    "duplicate-code": gettext_lazy("行政区划代码重复"),
    "bad-code": gettext_lazy("行政区划代码格式不正确"),
    "no-parent-unit": gettext_lazy("找不到上级单位"),
    "cannot-create": gettext_lazy("无法新建单位"),
    "cannot-move": gettext_lazy("无法迁移单位"),
    "cannot-dissolve": gettext_lazy("无法撤销单位"),
    "name-taken": gettext_lazy("同级已有同名单位"),
    "code-differs": gettext_lazy("行政区划代码与系统中的不一致"),
    "cannot-apply": gettext_lazy("无法更新人员"),
    "no-unit": gettext_lazy("没有对应的单位（未填写单位，或单位代码在系统中找不到），登录后没有岗位"),
    "unknown-unit-code": gettext_lazy("单位代码在系统中找不到"),
}


def change_line(item):
    """One change of a run, by name, e.g. "新建单位：和平社区（人民路街道办事处）"."""
    labels = {
        ("create", "unit"): _("新建单位"), ("update", "unit"): _("更新单位"), ("move", "unit"): _("迁移单位"),
        ("dissolve", "unit"): _("撤销单位"), ("create", "person"): _("新建人员"),
        ("activate", "person"): _("恢复人员"), ("deactivate", "person"): _("停用人员"),
    }
    label = labels.get((item.get("op"), item.get("kind")), f"{item.get('op')} {item.get('kind')}")
    where = item.get("parent") or item.get("username") or ""
    return f"{label}：{item.get('name', '')}" + (f"（{where}）" if where else "")


def down_message(reason="unreachable"):
    if reason == "tls":
        return _("目录服务器的证书未通过校验（证书不受信任、已过期或与服务器名称不符），无法安全登录，"
                 "请联系系统管理员；本地管理员账号仍可登录。")
    if reason == "service-bind":
        return _("目录服务拒绝了服务账号的密码（LDAP_BIND_DN / LDAP_BIND_PASSWORD），请联系系统管理员；"
                 "本地管理员账号仍可登录。")
    return _("目录服务暂时无法连接，请稍后再试；本地管理员账号仍可登录。")


class DirectoryUnavailable(Exception):
    """The directory could not be reached (network, TLS, timeout, or the service bind failed).

    `reason`: "unreachable", "timeout", "tls" (a certificate was refused) or "service-bind".
    """

    def __init__(self, detail="", reason="unreachable"):
        super().__init__(detail)
        self.reason = reason


class ServiceBindRefused(DirectoryUnavailable):
    """The directory answered but refused the service account's password (a configuration fault)."""

    def __init__(self, detail=""):
        super().__init__(detail, reason="service-bind")


def failure_reason(exc):
    """What kind of connection failure an ldap3/socket/ssl error is: "tls", "timeout" or "unreachable"."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        text = f"{exc.__class__.__name__} {exc}".lower()
        if isinstance(exc, ssl.SSLCertVerificationError) or "certificate" in text or "cert_verify" in text:
            return "tls"
        if isinstance(exc, ssl.SSLError) or "ssl" in text.split(":")[0]:
            return "tls"
        if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in text or "timeout" in text:
            return "timeout"
        exc = exc.__cause__ or exc.__context__
    return "unreachable"


class DirectoryIncomplete(Exception):
    """The directory cut a listing short (a size or time limit): a sync must not act on it."""


# --- configuration -----------------------------------------------------------------------------
@dataclass
class Config:
    urls: list
    bind_dn: str = ""
    bind_password: str = ""
    user_base: str = ""
    user_filter: str = "(uid={username})"
    unit_base: str = ""
    group_base: str = ""
    group_filter: str = "(|(member={dn})(uniqueMember={dn}))"
    memberof_attr: str = "memberOf"
    start_tls: bool = False
    ca_file: str = ""
    timeout: int = 5
    attr_map: dict = field(default_factory=lambda: dict(DEFAULT_ATTR_MAP))
    unit_code_attr: str = "businessCategory"
    person_unit_attr: str = "departmentNumber"
    group_role_map: dict = field(default_factory=lambda: dict(DEFAULT_GROUP_ROLE_MAP))
    disabled_attr: str = ""
    disabled_values: tuple = ()
    recheck_seconds: int = 300
    require_group: str = ""
    deny_group: str = ""
    nested_groups: str = "off"
    dead_seconds: int = 60
    recheck_wait: float = 0.25

    def role_for_group(self, group_dn):
        key = norm_dn(group_dn)
        for group, role in self.group_role_map.items():
            if "=" in group and norm_dn(group) == key:
                return role
        cn = first_rdn_value(group_dn).lower()
        for group, role in self.group_role_map.items():
            if "=" not in group and group.lower() == cn:
                return role
        return None

    def refusal(self, groups):
        """Why LDAP_REQUIRE_GROUP / LDAP_DENY_GROUP keep someone in these groups out, or None."""
        if self.deny_group and any(group_matches(self.deny_group, g) for g in groups):
            return "denied-group"
        if self.require_group and not any(group_matches(self.require_group, g) for g in groups):
            return "not-in-required-group"
        return None

    def user_attributes(self):
        attrs = {a for a in self.attr_map.values() if a}
        for extra in (self.person_unit_attr, self.disabled_attr, self.memberof_attr):
            if extra:
                attrs.add(extra)
        return sorted(attrs)


def get_config():
    """The directory configuration from settings, or None when LDAP_URL is unset."""
    urls = getattr(settings, "LDAP_URL", None) or []
    if isinstance(urls, str):
        urls = [u.strip() for u in urls.split(",") if u.strip()]
    if not urls:
        return None
    role_map = getattr(settings, "LDAP_GROUP_ROLE_MAP", None)
    if isinstance(role_map, str):
        role_map = parse_group_role_map(role_map)
    attr_map = getattr(settings, "LDAP_ATTR_MAP", None)
    if isinstance(attr_map, str):
        attr_map = parse_attr_map(attr_map)
    disabled_values = getattr(settings, "LDAP_DISABLED_VALUES", ()) or ()
    if isinstance(disabled_values, str):
        disabled_values = [v.strip() for v in disabled_values.split(",") if v.strip()]
    user_base = getattr(settings, "LDAP_USER_BASE", "") or ""
    return Config(
        urls=list(urls),
        bind_dn=getattr(settings, "LDAP_BIND_DN", "") or "",
        bind_password=getattr(settings, "LDAP_BIND_PASSWORD", "") or "",
        user_base=user_base,
        user_filter=getattr(settings, "LDAP_USER_FILTER", "") or "(uid={username})",
        unit_base=getattr(settings, "LDAP_UNIT_BASE", "") or user_base,
        group_base=getattr(settings, "LDAP_GROUP_BASE", "") or "",
        group_filter=getattr(settings, "LDAP_GROUP_FILTER", "") or "(|(member={dn})(uniqueMember={dn}))",
        memberof_attr=getattr(settings, "LDAP_MEMBEROF_ATTR", "memberOf") or "",
        start_tls=bool(getattr(settings, "LDAP_START_TLS", False)),
        ca_file=getattr(settings, "LDAP_CA_FILE", "") or "",
        timeout=int(getattr(settings, "LDAP_TIMEOUT", 5) or 5),
        attr_map=attr_map or dict(DEFAULT_ATTR_MAP),
        unit_code_attr=getattr(settings, "LDAP_UNIT_CODE_ATTR", "businessCategory") or "",
        person_unit_attr=getattr(settings, "LDAP_PERSON_UNIT_ATTR", "departmentNumber") or "",
        group_role_map=role_map if role_map is not None else dict(DEFAULT_GROUP_ROLE_MAP),
        disabled_attr=getattr(settings, "LDAP_DISABLED_ATTR", "") or "",
        disabled_values=tuple(v.lower() for v in disabled_values),
        recheck_seconds=int(getattr(settings, "LDAP_RECHECK_SECONDS", 300)),
        require_group=(getattr(settings, "LDAP_REQUIRE_GROUP", "") or "").strip(),
        deny_group=(getattr(settings, "LDAP_DENY_GROUP", "") or "").strip(),
        nested_groups=getattr(settings, "LDAP_NESTED_GROUPS", "off") or "off",
        dead_seconds=int(getattr(settings, "LDAP_DEAD_SECONDS", 60)),
        recheck_wait=int(getattr(settings, "LDAP_RECHECK_WAIT_MS", 250)) / 1000,
    )


def group_matches(wanted, group_dn):
    """A configured group (a cn, or a full DN when it holds "=") names this group DN."""
    if "=" in wanted:
        return norm_dn(wanted) == norm_dn(group_dn)
    return wanted.lower() == first_rdn_value(group_dn).lower()


def refusal_message(reason):
    if reason == "denied-group":
        return _("您所在的目录组不允许登录本系统，请联系系统管理员。")
    return _("您不在允许登录本系统的目录组中，请联系系统管理员。")


# --- DNs ---------------------------------------------------------------------------------------
_HEX_ESCAPE = re.compile(r"\\([0-9a-fA-F]{2})|\\(.)")


def unescape_dn_value(value):
    if "\\" not in value:
        return value
    raw = bytearray()
    pos = 0
    for m in _HEX_ESCAPE.finditer(value):
        raw += value[pos:m.start()].encode("utf-8")
        raw += bytes([int(m.group(1), 16)]) if m.group(1) else m.group(2).encode("utf-8")
        pos = m.end()
    raw += value[pos:].encode("utf-8")
    return raw.decode("utf-8", "replace")


@functools.lru_cache(maxsize=65536)
def _parse_dn(dn):
    from ldap3.utils.dn import parse_dn

    try:
        return tuple(parse_dn(dn))
    except Exception:  # noqa: BLE001 - a malformed DN from the directory
        return ()


def split_dn(dn):
    """'uid=a,ou=B,dc=c' → [('uid','a'), ('ou','B'), ('dc','c')] (values unescaped)."""
    return [(attr.strip(), unescape_dn_value(value.strip())) for attr, value, _sep in _parse_dn(dn or "")]


@functools.lru_cache(maxsize=65536)
def norm_dn(dn):
    return ",".join(f"{a.lower()}={v.lower()}" for a, v in split_dn(dn))


def parent_dn(dn):
    return "".join(f"{a}={v}{sep}" for a, v, sep in _parse_dn(dn or "")[1:])


def first_rdn_value(dn):
    parts = split_dn(dn)
    return parts[0][1] if parts else ""


def is_under(dn, base):
    if not base:
        return True
    d, b = norm_dn(dn), norm_dn(base)
    return d == b or d.endswith("," + b)


def ou_path(dn, base):
    """The ou names from the top down to dn (dn itself included when it is an ou), below base."""
    parts = split_dn(dn)
    below = len(parts) - len(split_dn(base)) if base and is_under(dn, base) else len(parts)
    return [v for a, v in reversed(parts[:below]) if a.lower() == "ou"]


# --- input checks ------------------------------------------------------------------------------
def _safe(value, limit=64):
    """A printable, truncated form of untrusted input for the audit log (no NUL for PostgreSQL)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value or "")
    return "".join(ch if unicodedata.category(ch)[0] != "C" else "\ufffd" for ch in value[:limit])


def check_username(username):
    """Return the username stripped, or raise ActionError(400) with a clear message."""
    if isinstance(username, (bytes, bytearray)):
        try:
            username = bytes(username).decode("utf-8")
        except UnicodeDecodeError:
            raise ActionError(_("用户名不是有效的 UTF-8 文本。")) from None
    if not isinstance(username, str):
        raise ActionError(_("请输入用户名。"))
    if len(username) > MAX_USERNAME:
        raise ActionError(_("用户名过长（最多 %(n)d 个字符）。") % {"n": MAX_USERNAME})
    if "\x00" in username:
        raise ActionError(_("用户名不能包含空字符（NUL）。"))
    try:
        username.encode("utf-8")
    except UnicodeEncodeError:
        raise ActionError(_("用户名不是有效的 UTF-8 文本。")) from None
    if "\ufffd" in username:  # what Django makes of bytes that are not UTF-8
        raise ActionError(_("用户名不是有效的 UTF-8 文本。"))
    if any(unicodedata.category(ch) == "Cc" for ch in username):
        raise ActionError(_("用户名不能包含控制字符。"))
    from office.auth import normalise_username

    username = normalise_username(username)
    if not username:
        raise ActionError(_("请输入用户名。"))
    return username


def check_password(password):
    if isinstance(password, (bytes, bytearray)):
        try:
            password = bytes(password).decode("utf-8")
        except UnicodeDecodeError:
            raise ActionError(_("密码不是有效的 UTF-8 文本。")) from None
    if not isinstance(password, str) or password == "":
        raise ActionError(_("请输入密码。"))
    if len(password) > MAX_PASSWORD:
        raise ActionError(_("密码过长。"))
    if "\x00" in password:
        raise ActionError(_("密码不能包含空字符（NUL）。"))
    return password


def bindable_password(password):
    """Whether the directory could ever accept this password: a simple bind sends it through SASLprep,
    which refuses control characters (TAB), U+FFFD (what a non-UTF-8 byte becomes) and the like."""
    from ldap3.core.exceptions import LDAPException
    from ldap3.protocol.sasl.sasl import validate_simple_password

    try:
        validate_simple_password(password)
    except (LDAPException, UnicodeError, ValueError, TypeError):
        return False
    return True


# --- connections -------------------------------------------------------------------------------
def _tls(cfg):
    from ldap3 import Tls

    return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=cfg.ca_file or None,
               version=ssl.PROTOCOL_TLS_CLIENT)


# URL → time.monotonic() until which a server that failed is tried only after the others
# (a hung first server must not cost the timeout on every sign-in). Per process.
_dead_until = {}


def servers_in_order(cfg, urls=None):
    """The configured URLs, those that failed within LDAP_DEAD_SECONDS last (still tried)."""
    now = time.monotonic()
    urls = list(urls or cfg.urls)
    alive = [u for u in urls if _dead_until.get(u, 0) <= now]
    return alive + [u for u in urls if u not in alive]


def _mark(url, dead, cfg):
    if dead and cfg.dead_seconds > 0:
        _dead_until[url] = time.monotonic() + cfg.dead_seconds
    else:
        _dead_until.pop(url, None)


def connect(cfg, user=None, password=None, urls=None):
    """An open, TLS-protected connection bound as `user` (or the service account).

    Returns (connection, bound). Raises DirectoryUnavailable when no server answers in time.
    The servers are tried in order (ServerPool, FIRST), those that failed lately last; a server that
    accepts TCP but then fails or hangs is dropped and the next one tried.
    """
    from ldap3 import FIRST, NONE, SIMPLE, Connection, Server, ServerPool, set_config_parameter
    from ldap3.core.exceptions import LDAPException

    if user is not None and not password:
        # An empty-password simple bind is an anonymous bind on many servers: never send one.
        raise ValueError("refusing a bind with an empty password")
    set_config_parameter("POOLING_LOOP_TIMEOUT", 0)
    set_config_parameter("CHECK_AVAILABILITY_TIMEOUT", cfg.timeout)
    remaining = servers_in_order(cfg, urls)
    errors, reasons = [], []
    while remaining:
        tls = _tls(cfg) if (cfg.start_tls or any(u.lower().startswith("ldaps:") for u in remaining)) else None
        servers = [Server(u, connect_timeout=cfg.timeout, tls=tls, get_info=NONE) for u in remaining]
        pool = ServerPool(servers, FIRST, active=1, exhaust=False)
        conn = None
        try:
            conn = Connection(pool, user=user if user is not None else cfg.bind_dn,
                              password=password if user is not None else cfg.bind_password,
                              authentication=SIMPLE, receive_timeout=cfg.timeout, raise_exceptions=False,
                              read_only=True, check_names=False, auto_referrals=False)
            conn.open(read_server_info=False)
            # Without TCP_NODELAY every request after START_TLS waits ~40 ms (Nagle + delayed ACK).
            conn.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if cfg.start_tls and not conn.server.ssl:
                if not conn.start_tls(read_server_info=False):
                    raise DirectoryUnavailable(f"START_TLS refused by {conn.server}: {conn.result}")
            bound = conn.bind(read_server_info=False)
        except (LDAPException, OSError, ssl.SSLError, DirectoryUnavailable) as exc:
            failed = getattr(conn, "server", None)
            errors.append(f"{failed}: {exc.__class__.__name__}: {exc}")
            reasons.append(failure_reason(exc))
            if conn is not None:
                try:
                    conn.unbind()
                except Exception:  # noqa: BLE001
                    pass
            for url, server in zip(remaining, servers):
                if server is failed or failed is None or isinstance(exc, _pool_exhausted()):
                    _mark(url, True, cfg)
            if failed is None or isinstance(exc, _pool_exhausted()):
                break
            left = [u for u, s in zip(remaining, servers) if s is not failed]
            if len(left) == len(remaining):
                break
            remaining = left
            continue
        for url, server in zip(remaining, servers):
            if server is conn.server:
                _mark(url, False, cfg)
                conn.yw_url = url
        if not bound and user is None:
            # The service account is refused: a configuration fault, said as such.
            log.error("LDAP service bind as %s refused: %s", cfg.bind_dn, conn.result)
            conn.unbind()
            raise ServiceBindRefused(f"service bind refused: {conn.result.get('description')}")
        return conn, bound
    reason = ("tls" if "tls" in reasons else "timeout" if "timeout" in reasons else "unreachable")
    (log.warning if reason == "tls" else log.info)("LDAP directory unavailable (%s): %s", reason, "; ".join(errors))
    raise DirectoryUnavailable("; ".join(errors) or "no LDAP server", reason=reason)


class _KeptConnections:
    """Idle directory connections of one kind, kept per process for the next request. One idle longer
    than IDLE_SECONDS is closed rather than reused (a server or firewall may have dropped it)."""

    IDLE_SECONDS = 60
    MAX_IDLE = 8

    def __init__(self):
        self._lock = threading.Lock()
        self._idle = []  # (key, connection, returned at)

    def _take(self, key):
        now = time.monotonic()
        stale, found = [], None
        with self._lock:
            keep = []
            for entry in self._idle:
                if found is None and entry[0] == key and now - entry[2] < self.IDLE_SECONDS:
                    found = entry[1]
                elif now - entry[2] >= self.IDLE_SECONDS:
                    stale.append(entry[1])
                else:
                    keep.append(entry)
            self._idle = keep
        for conn in stale:
            _quiet_unbind(conn)
        return found

    def _keep(self, key, conn):
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append((key, conn, time.monotonic()))
                return
        _quiet_unbind(conn)

    def clear(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for _key, conn, _at in idle:
            _quiet_unbind(conn)


class ServiceConnections(_KeptConnections):
    """Bound service-account connections kept for the next sign-in or re-check (per process).

    Each new connection costs a TCP connect, a TLS handshake and a bind (about half the CPU of a
    directory sign-in); the service account's searches reuse an idle one instead. A connection that
    failed is closed, never returned; one that fails at once on reuse (closed by the server) is
    replaced by a fresh connection for that one request."""

    @staticmethod
    def _key(cfg):
        return (tuple(cfg.urls), cfg.bind_dn, cfg.bind_password, cfg.start_tls, cfg.ca_file, cfg.timeout)

    def _give_back(self, key, conn):
        if conn.closed or not conn.bound:
            return _quiet_unbind(conn)
        self._keep(key, conn)

    def run(self, cfg, work):
        """work(conn) on a bound service connection; DirectoryUnavailable when none can be had."""
        key = self._key(cfg)
        conn = self._take(key)
        if conn is not None:
            started = time.monotonic()
            try:
                result = work(conn)
            except DirectoryUnavailable:
                _quiet_unbind(conn)
                if time.monotonic() - started >= min(1.0, cfg.timeout / 2):
                    # It waited: that server hangs. Tried last from now on, as connect() does; with
                    # no other server to try, a fresh connection would only wait again.
                    _mark(getattr(conn, "yw_url", ""), True, cfg)
                    if len(cfg.urls) < 2:
                        raise
                # Otherwise it was dropped while idle: once more on a fresh connection.
            except BaseException:
                _quiet_unbind(conn)
                raise
            else:
                self._give_back(key, conn)
                return result
        conn, _bound = connect(cfg)
        try:
            result = work(conn)
        except BaseException:
            _quiet_unbind(conn)
            raise
        self._give_back(key, conn)
        return result


def _quiet_unbind(conn):
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001
        pass


service_connections = ServiceConnections()


def _encrypted(cfg, conn):
    """Whether a kept connection still runs inside TLS (LDAPS or START_TLS), as connect() set it up."""
    wanted = cfg.start_tls or any(u.lower().startswith("ldaps:") for u in cfg.urls)
    return not conn.closed and (not wanted or isinstance(conn.socket, ssl.SSLSocket))


class PasswordConnections(_KeptConnections):
    """Kept connections that only ever check a person's password by a simple bind (per process).

    A fresh connection per sign-in cost a TCP connect, START_TLS and a TLS handshake: half the CPU of
    a directory sign-in and most of its wall time; a bind on a kept connection costs a tenth of that.

    Why this is safe:
    - these connections do nothing but binds (never a search) and are never handed to the service
      account's pool, so the identity a bind leaves behind (the last person, or anonymous after a
      refused password) gives nobody anything; they are read-only connections besides;
    - the password is dropped from the connection object right after its bind;
    - a bind goes out only on an open connection still inside its TLS session (ldap3 would silently
      reopen a closed connection without START_TLS and send the password in the clear);
    - only a clean answer on a kept connection counts: success, or invalidCredentials (49). Anything
      else (a connection the server dropped while idle, a busy or hung server, another result code)
      is never taken as a wrong password: the connection is dropped and the bind is repeated on a
      fresh connection, whose answer is final as before. The lockout counts exactly what a fresh
      connection would have counted."""

    WRONG_PASSWORD = 49  # invalidCredentials

    def check(self, cfg, dn, password):
        """True when `password` is the entry's, False when the directory says it is wrong; raises
        DirectoryUnavailable when no server answers."""
        if not password:
            # An empty-password simple bind is an anonymous bind on many servers: never send one.
            raise ValueError("refusing a bind with an empty password")
        key = self._key(cfg)
        conn = self._take(key)
        if conn is not None:
            started = time.monotonic()
            answer = self._bind(cfg, conn, dn, password)
            if answer is not None:
                self._give_back(key, conn)
                return answer
            _quiet_unbind(conn)
            if time.monotonic() - started >= min(1.0, cfg.timeout / 2) and getattr(conn, "yw_url", ""):
                # It waited: that server hangs. Tried last from now on; alone, a fresh connection
                # would only wait again.
                _mark(conn.yw_url, True, cfg)
                if len(cfg.urls) < 2:
                    raise DirectoryUnavailable("bind on a kept connection timed out", reason="timeout")
        conn, bound = connect(cfg, user=dn, password=password)
        conn.password = None
        if bound or (conn.result or {}).get("result") == self.WRONG_PASSWORD:
            self._give_back(key, conn)
        else:
            _quiet_unbind(conn)
        return bound

    def _bind(self, cfg, conn, dn, password):
        from ldap3 import SIMPLE
        from ldap3.core.exceptions import LDAPException

        if not _encrypted(cfg, conn):
            return None
        try:
            conn.user, conn.password, conn.authentication = dn, password, SIMPLE
            bound = conn.bind(read_server_info=False)
        except (LDAPException, OSError, ssl.SSLError):
            return None
        finally:
            conn.password = None
        code = (conn.result or {}).get("result")
        if bound and code == 0:
            return True
        if not bound and code == self.WRONG_PASSWORD:
            return False
        return None

    @staticmethod
    def _key(cfg):
        return (tuple(cfg.urls), cfg.start_tls, cfg.ca_file, cfg.timeout)

    def _give_back(self, key, conn):
        """Kept whatever identity its last bind left (see above), unless it is closed."""
        if conn.closed:
            return _quiet_unbind(conn)
        self._keep(key, conn)


password_connections = PasswordConnections()


def _pool_exhausted():
    from ldap3.core.exceptions import LDAPServerPoolExhaustedError

    return LDAPServerPoolExhaustedError


def _check_result(conn):
    """Raise DirectoryUnavailable on a failed operation other than 'no such object'/'size limit'."""
    code = conn.result.get("result", 0) if conn.result else 0
    if code not in (0, 4, 32):
        raise DirectoryUnavailable(f"LDAP operation failed: {conn.result}")


@dataclass
class Entry:
    dn: str
    attrs: dict  # lower-case attribute name → list of str

    def all(self, name):
        return self.attrs.get((name or "").lower(), []) if name else []

    def first(self, name, default=""):
        values = self.all(name)
        return values[0] if values else default


def _entries(conn):
    out = []
    for item in conn.response or []:
        if item.get("type") != "searchResEntry":
            continue
        attrs = {}
        for name, values in (item.get("raw_attributes") or {}).items():
            attrs[name.lower()] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                                   for v in values]
        out.append(Entry(dn=item["dn"], attrs=attrs))
    return out


def search(conn, base, filter_, attributes, *, scope="SUBTREE", size_limit=0):
    from ldap3 import BASE, LEVEL, SUBTREE
    from ldap3.core.exceptions import LDAPException

    scopes = {"SUBTREE": SUBTREE, "BASE": BASE, "LEVEL": LEVEL}
    try:
        conn.search(base, filter_, search_scope=scopes[scope], attributes=attributes, size_limit=size_limit)
    except (LDAPException, OSError, ssl.SSLError) as exc:
        raise DirectoryUnavailable(f"search failed: {exc}", reason=failure_reason(exc)) from None
    _check_result(conn)
    return _entries(conn)


def paged_search(conn, base, filter_, attributes, page_size=500):
    """All entries below base, page by page (the server's size limit applies per page)."""
    from ldap3 import SUBTREE
    from ldap3.core.exceptions import LDAPException

    cookie = None
    while True:
        try:
            conn.search(base, filter_, search_scope=SUBTREE, attributes=attributes,
                        paged_size=page_size, paged_cookie=cookie)
        except (LDAPException, OSError, ssl.SSLError) as exc:
            raise DirectoryUnavailable(f"search failed: {exc}", reason=failure_reason(exc)) from None
        code = (conn.result or {}).get("result", 0)
        if code in (3, 4, 11):  # timeLimitExceeded, sizeLimitExceeded, adminLimitExceeded
            raise DirectoryIncomplete(_("目录只返回了部分条目（%(why)s）：请为服务账号放宽目录的查询数量限制"
                                        "（OpenLDAP：limits … size.prtotal=unlimited）。")
                                      % {"why": (conn.result or {}).get("description", code)})
        _check_result(conn)
        yield from _entries(conn)
        controls = (conn.result or {}).get("controls") or {}
        cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
        if not cookie:
            break


def user_filter(cfg, username):
    from ldap3.utils.conv import escape_filter_chars

    return cfg.user_filter.replace("{username}", escape_filter_chars(username))


def find_user(conn, cfg, username):
    """The entries matching the username (at most two: more than one is already an error)."""
    return search(conn, cfg.user_base, user_filter(cfg, username), cfg.user_attributes(), size_limit=2)


def is_disabled(cfg, entry):
    if not cfg.disabled_attr:
        return False
    values = entry.all(cfg.disabled_attr)
    if not values:
        return False
    if cfg.disabled_attr.lower() == "useraccountcontrol":  # Active Directory: bit 2 = ACCOUNTDISABLE
        try:
            return bool(int(values[0]) & 2)
        except ValueError:
            return False
    if not cfg.disabled_values:  # presence alone disables (e.g. pwdAccountLockedTime)
        return True
    return any(v.strip().lower() in cfg.disabled_values for v in values)


IN_CHAIN_FILTER = "(member:1.2.840.113556.1.4.1941:={dn})"  # Active Directory: every group, nested too
MAX_GROUP_DEPTH = 10


def group_filter_for(cfg, dn):
    from ldap3.utils.conv import escape_filter_chars

    template = IN_CHAIN_FILTER if cfg.nested_groups == "in_chain" else cfg.group_filter
    return template.replace("{dn}", escape_filter_chars(dn))


def group_dns(conn, cfg, entry):
    """DNs of the groups the entry belongs to: memberOf plus a group search under LDAP_GROUP_BASE;
    with LDAP_NESTED_GROUPS=search also the groups that hold those groups, level by level."""
    from ldap3.utils.conv import escape_filter_chars

    found = {norm_dn(g): g for g in entry.all(cfg.memberof_attr)}
    if cfg.group_base:
        for group in search(conn, cfg.group_base, group_filter_for(cfg, entry.dn), ["1.1"]):
            found.setdefault(norm_dn(group.dn), group.dn)
        if cfg.nested_groups == "search":
            frontier = list(found.values())
            for _depth in range(MAX_GROUP_DEPTH):
                if not frontier:
                    break
                terms = "".join(f"(member={escape_filter_chars(g)})(uniqueMember={escape_filter_chars(g)})"
                                for g in frontier)
                frontier = []
                for group in search(conn, cfg.group_base, f"(|{terms})", ["1.1"]):
                    if norm_dn(group.dn) not in found:
                        found[norm_dn(group.dn)] = group.dn
                        frontier.append(group.dn)
    return list(found.values())


def nest_memberships(members):
    """{member DN (normalised) → [group DN]} with groups of groups followed (ldap_sync, nested groups)."""
    out = {}
    for member, groups in members.items():
        seen = {norm_dn(g): g for g in groups}
        frontier = list(groups)
        for _depth in range(MAX_GROUP_DEPTH):
            nxt = []
            for group in frontier:
                for parent in members.get(norm_dn(group), []):
                    if norm_dn(parent) not in seen:
                        seen[norm_dn(parent)] = parent
                        nxt.append(parent)
            if not nxt:
                break
            frontier = nxt
        out[member] = list(seen.values())
    return out


def person_fields(cfg, entry, typed_username=""):
    values = {}
    for name in DEFAULT_ATTR_MAP:
        attr = cfg.attr_map.get(name)
        values[name] = (entry.first(attr) if attr else "").strip()[:FIELD_LIMITS[name]]
    if not values["username"]:
        values["username"] = (typed_username or first_rdn_value(entry.dn))[:150]
    if not values["display_name"]:
        values["display_name"] = values["username"][:100]
    return values


def code_variants(code):
    """Administrative codes are written with 6, 9 or 12 digits; 610402 == 610402000000."""
    code = (code or "").strip()
    if not code.isdigit() or len(code) not in (6, 9, 12):
        return []
    full = code.ljust(12, "0")
    return list({full, full[:9], full[:6]} if full.endswith("000000") else
                ({full, full[:9]} if full.endswith("000") else {full}))


def normal_code(code):
    code = (code or "").strip()
    return code.ljust(12, "0") if code.isdigit() and len(code) in (6, 9, 12) else None


# --- resolving units and roles at sign-in ---------------------------------------------------
# The ou entries that sign-ins and re-checks read (their unit codes), kept per process for
# OU_KEEP_SECONDS: the people of one unit sign in around the same time, and each sign-in read the same
# ous above them again (two of its four searches). ldap_sync reads the tree afresh and stays the
# authority on units; a changed unit code reaches sign-ins within this time.
OU_KEEP_SECONDS = 60
_ou_entries = {}  # (servers, code attribute, normalised ou DN) → ([Entry], read at monotonic)
_ou_lock = threading.Lock()


class UnitResolver:
    """Finds the Unit for an ou DN (by its code attribute, then by its path of names)."""

    def __init__(self, conn, cfg, raw=None):
        self.conn, self.cfg = conn, cfg
        self.cache = {}
        self.raw = raw if raw is not None else {}  # normalised ou DN → [Entry] (its BASE search)

    def lookup(self, dn):
        """The ou entry itself (a BASE search, or one read in the last OU_KEEP_SECONDS), from what was
        fetched before when there is no connection."""
        key = norm_dn(dn)
        if key not in self.raw:
            if self.conn is None:
                return []
            kept_key = (tuple(self.cfg.urls), self.cfg.unit_code_attr, key)
            now = time.monotonic()
            kept = _ou_entries.get(kept_key)
            if kept is not None and now - kept[1] < OU_KEEP_SECONDS:
                self.raw[key] = kept[0]
                return kept[0]
            attrs = [self.cfg.unit_code_attr] if self.cfg.unit_code_attr else ["1.1"]
            self.raw[key] = search(self.conn, dn, "(objectClass=organizationalUnit)", attrs, scope="BASE")
            with _ou_lock:
                if len(_ou_entries) >= 20000:
                    _ou_entries.clear()
                _ou_entries[kept_key] = (self.raw[key], now)
        return self.raw[key]

    def prefetch(self, dn):
        """Read the ou at dn and the ous above it (inside LDAP_UNIT_BASE) from the directory, no database."""
        while dn:
            parts = split_dn(dn)
            if not parts or parts[0][0].lower() != "ou" or not is_under(dn, self.cfg.unit_base):
                return
            self.lookup(dn)
            dn = parent_dn(dn)

    def by_code(self, code):
        from office.models import Unit

        variants = code_variants(code)
        if not variants:
            return None
        return Unit.objects.filter(code__in=variants).first()

    @staticmethod
    def named(parent, name):
        """The unit called `name` (its name or short name) directly under parent (None: a root unit)."""
        from django.db.models import Q

        from office.models import Unit

        units = Unit.objects.filter(Q(name=name) | Q(short_name=name))
        units = units.filter(parent=parent) if parent is not None else units.filter(parent__isnull=True)
        return units.order_by("dissolved_at", "id").first()

    def for_ou(self, dn):
        """The unit of an ou entry: by its code attribute; else by name under the unit of its parent ou
        (or, at the top, a root unit of that name)."""
        key = norm_dn(dn)
        if key in self.cache:
            return self.cache[key]
        unit = None
        parts = split_dn(dn)
        if parts and parts[0][0].lower() == "ou" and is_under(dn, self.cfg.unit_base):
            found = self.lookup(dn)
            if found:
                if self.cfg.unit_code_attr:
                    unit = self.by_code(found[0].first(self.cfg.unit_code_attr))
                if unit is None:
                    above = parent_dn(dn)
                    above_parts = split_dn(above)
                    if above_parts and above_parts[0][0].lower() == "ou" and is_under(above, self.cfg.unit_base):
                        parent = self.for_ou(above)
                        unit = self.named(parent, parts[0][1]) if parent is not None else None
                    else:
                        unit = self.named(None, parts[0][1])
        self.cache[key] = unit
        return unit


@dataclass
class PostSpec:
    unit: object
    roles: list
    title: str = ""


def build_post_specs(cfg, entry, groups, unit_for_ou, unit_for_code):
    """The posts the directory gives an entry: [PostSpec], one per unit.

    Units: the entry's own ou (its place in the tree), the codes in LDAP_PERSON_UNIT_ATTR, and the ou
    of any role group placed inside the unit tree. Roles: a group mapped to a role applies to the post
    in the unit whose ou holds the group, or to every post when the group sits outside the unit tree.
    """
    units = {}
    home = unit_for_ou(parent_dn(entry.dn))
    if home is not None:
        units[home.id] = home
    for code in entry.all(cfg.person_unit_attr):
        unit = unit_for_code(code)
        if unit is not None:
            units.setdefault(unit.id, unit)
    global_roles, unit_roles = set(), {}
    for group in groups:
        role = cfg.role_for_group(group)
        if role is None:
            continue
        scope = unit_for_ou(parent_dn(group))
        if scope is None:
            global_roles.add(role)
        else:
            units.setdefault(scope.id, scope)
            unit_roles.setdefault(scope.id, set()).add(role)
    title = entry.first(cfg.attr_map.get("title"))[:100]
    specs = []
    for unit in units.values():
        if unit.is_local or unit.dissolved_at is not None:
            continue
        roles = global_roles | unit_roles.get(unit.id, set())
        specs.append(PostSpec(unit=unit, roles=[r for r in ROLES if r in roles], title=title))
    return sorted(specs, key=lambda spec: spec.unit.id)


# --- writing people and posts ------------------------------------------------------------------
_LOOK_UP = object()


def do_apply_person(fields, dn, specs, *, active=True, ip=None, reason="signin", person_id=_LOOK_UP):
    """Create or update the Person and their directory posts from a directory entry.

    Writes nothing when nothing differs (person_id: the person's id, or None for a new person, when
    the caller already looked). Returns (person, stats) where stats counts what changed:
    {"person": "created"|"updated"|"activated"|"deactivated"|None, "posts_created", "posts_updated",
    "posts_ended"}.
    """
    from office.actions import do_end_post, do_set_post
    from office.models import ROLE_FIELDS, Person, Post

    stats = {"person": None, "posts_created": 0, "posts_updated": 0, "posts_ended": 0}
    with transaction.atomic():
        if person_id is _LOOK_UP:  # by username, else by DN (the uid changed): one query for both
            from django.db.models import Q

            found = list(Person.objects.select_for_update().filter(
                Q(username=fields["username"]) | Q(source="ldap", ldap_dn=dn[:500])).order_by("id"))
            person = (next((p for p in found if p.username == fields["username"]), None)
                      or next((p for p in found if p.source == "ldap" and p.ldap_dn == dn[:500]), None))
        else:  # the caller (ldap_sync) already knows: None = a new person
            person = Person.objects.select_for_update().get(id=person_id) if person_id is not None else None
        wanted = {**fields, "ldap_dn": dn[:500], "is_active": active, "source": "ldap"}
        if person is None:
            person = Person(**wanted)
            person.set_unusable_password()
            person.save()
            # A new person is offline and has no posts yet: create them here, in one audit entry.
            new_posts = [Post(person=person, unit=spec.unit, title=spec.title, source="ldap",
                              **{ROLE_FIELDS[r]: True for r in spec.roles})
                         for spec in (specs if active else [])]
            Post.objects.bulk_create(new_posts)
            audit.record("person.create", obj=person, ip=ip,
                         data={"source": "ldap", "dn": dn, "username": person.username, "via": reason,
                               "posts": [{"unit": s.unit.id, "roles": s.roles} for s in specs] if active else []})
            stats["person"] = "created"
            stats["posts_created"] = len(new_posts)
            return person, stats
        else:
            if person.source != "ldap":
                raise ActionError(_("本地账号“%(u)s”与目录账号同名，未从目录更新。") % {"u": person.username},
                                  status=409)
            before = {k: getattr(person, k) for k in wanted}
            diff = {k: (before[k], v) for k, v in wanted.items() if before[k] != v}
            if diff:
                for key, (_old, new) in diff.items():
                    setattr(person, key, new)
                person.save(update_fields=list(diff))
                action = ("person.deactivate" if diff.get("is_active") == (True, False) else
                          "person.activate" if diff.get("is_active") == (False, True) else "person.update")
                audit.record(action, obj=person, ip=ip,
                             data={"source": "ldap", "via": reason,
                                   "changes": {k: [o, n] for k, (o, n) in diff.items()}})
                stats["person"] = action.split(".")[1] + ("d" if action.endswith("e") else "")
        existing = {p.unit_id: p for p in Post.objects.filter(person=person)}
        wanted_units = set()
        if active:
            for spec in specs:
                wanted_units.add(spec.unit.id)
                post = existing.get(spec.unit.id)
                if post is not None and post.active and post.roles == spec.roles and post.title == spec.title:
                    continue
                do_set_post(person=person, unit=spec.unit, roles=spec.roles, title=spec.title, source="ldap",
                            ip=ip)
                stats["posts_created" if post is None else "posts_updated"] += 1
        for post in existing.values():
            if post.source == "ldap" and post.active and post.unit_id not in wanted_units:
                do_end_post(target=post, ip=ip)
                stats["posts_ended"] += 1
    return person, stats


def do_deactivate_person(person, *, reason, ip=None):
    """The directory no longer knows (or has disabled) this person: they can no longer sign in, and
    their directory posts end (posts given locally stay)."""
    from office.actions import do_end_post
    from office.models import Person, Post

    with transaction.atomic():
        person = Person.objects.select_for_update().get(id=person.id)
        if person.is_active:
            person.is_active = False
            person.save(update_fields=["is_active"])
            audit.record("person.deactivate", obj=person, ip=ip, data={"source": "ldap", "reason": reason})
        for post in Post.objects.filter(person=person, source="ldap", active=True):
            do_end_post(target=post, ip=ip)
    return person


def _fail(action, reason, username, ip, **data):
    audit.record(action, ip=ip, data={"username": _safe(username), "reason": reason, "source": "ldap", **data})


# --- what the directory says about one person (network only: safe in a worker thread) -------------
@dataclass
class Snapshot:
    entries: list
    entry: object = None        # the one entry, when exactly one matched
    groups: list = field(default_factory=list)
    ous: dict = field(default_factory=dict)  # prefetched ou entries for the UnitResolver


def fetch_person(cfg, username, dn=""):
    """Look the person up with the service account: their entry, groups and the ous above both.

    Touches no database, so it may run in a worker thread while the request goes on."""
    def work(conn):
        entries = find_user(conn, cfg, username)
        mine = [e for e in entries if dn and norm_dn(e.dn) == norm_dn(dn)] or entries
        snap = Snapshot(entries=entries)
        if len(mine) != 1:
            return snap
        snap.entry = mine[0]
        _read_groups_and_ous(conn, cfg, snap)
        return snap

    return service_connections.run(cfg, work)


def _read_groups_and_ous(conn, cfg, snap):
    """The entry's groups, and the ous above it and above its role groups (for build_post_specs)."""
    snap.groups = group_dns(conn, cfg, snap.entry)
    resolver = UnitResolver(conn, cfg)
    resolver.prefetch(parent_dn(snap.entry.dn))
    for group in snap.groups:
        if cfg.role_for_group(group) is not None:
            resolver.prefetch(parent_dn(group))
    snap.ous = resolver.raw


@dataclass
class SignInFetch(Snapshot):
    username: str = ""
    bound: bool = False
    error: object = None  # DirectoryUnavailable


def fetch_sign_in(cfg, username, password):
    """Everything a sign-in needs from the directory, asked with no database access (so it may run
    in a worker thread): the entries for the username, the bind as the one entry, its groups and ous.
    A directory failure is returned in .error, not raised."""
    result = SignInFetch(entries=[], username=username)

    def work(conn):
        result.entries = find_user(conn, cfg, username)
        if len(result.entries) != 1:
            return
        entry = result.entry = result.entries[0]
        result.bound = password_connections.check(cfg, entry.dn, password)
        if result.bound:
            _read_groups_and_ous(conn, cfg, result)

    try:
        service_connections.run(cfg, work)
    except DirectoryUnavailable as exc:
        result.error = exc
    return result


def prepare_sign_in(username, password):
    """(config, username, password) when a sign-in with these should ask the directory, else None (a local
    account, bad input, no directory configured: authenticate() answers those by itself)."""
    from office.models import Person

    cfg = get_config()
    if cfg is None or username is None or password is None:
        return None
    try:
        username = check_username(username)
        password = check_password(password)
    except ActionError:
        return None
    if not bindable_password(password):
        return None
    if Person.objects.filter(username__iexact=username).exclude(source="ldap").exists():
        return None
    return cfg, username, password


def specs_from_snapshot(cfg, snap):
    resolver = UnitResolver(None, cfg, raw=snap.ous)
    return build_post_specs(cfg, snap.entry, snap.groups, resolver.for_ou, resolver.by_code)


# --- the Django authentication backend -----------------------------------------------------------
class LDAPBackend(BaseBackend):
    """Django backend: directory people sign in here; local people are left to the local backend."""

    def authenticate(self, request, username=None, password=None, ldap_fetched=None, **kwargs):
        """ldap_fetched: what fetch_sign_in() already got from the directory for this username (the
        login page asks the directory off the request thread), or None to ask now."""
        if username is None or password is None:
            return None
        ip = audit.client_ip(request)
        try:
            username = check_username(username)
        except ActionError as exc:
            _fail("auth.ldap_refused", exc.message, username, ip)
            raise
        cfg = get_config()
        if cfg is None:
            return None
        from office.models import Person

        # What the login page fetched came through prepare_sign_in(), which has already made sure that
        # no local account has this name and that the password is one a directory could accept.
        fetched = ldap_fetched if ldap_fetched is not None and ldap_fetched.username == username else None
        if fetched is None:
            if Person.objects.filter(username__iexact=username).exclude(source="ldap").exists():
                return None  # a local account (break-glass administrator, local units): never the directory
            try:
                password = check_password(password)
            except ActionError as exc:
                _fail("auth.ldap_refused", exc.message, username, ip)
                raise
            if not bindable_password(password):
                # No directory can accept it (TAB, a byte that was not UTF-8…): a wrong password, not an outage.
                _fail("auth.ldap_failed", "bad-password", username, ip)
                return None
            fetched = fetch_sign_in(cfg, username, password)
        if fetched.error is not None:
            exc = fetched.error
            _fail("auth.ldap_unavailable", "directory-unavailable", username, ip, error=str(exc)[:300],
                  cause=exc.reason)
            raise ActionError(down_message(exc.reason), status=503)
        entries = fetched.entries
        if not entries:
            _fail("auth.ldap_failed", "not-found", username, ip)
            return None
        if len(entries) > 1:
            _fail("auth.ldap_refused", "ambiguous", username, ip, dns=[e.dn for e in entries])
            raise ActionError(_("该用户名在目录中对应多个账号，无法登录，请联系系统管理员。"), status=409)
        entry = entries[0]
        if not fetched.bound:
            _fail("auth.ldap_failed", "bad-password", username, ip, dn=entry.dn)
            return None
        fields = person_fields(cfg, entry, username)
        if is_disabled(cfg, entry):
            known = Person.objects.filter(username=fields["username"], source="ldap").first()
            if known is not None:
                do_deactivate_person(known, reason="disabled", ip=ip)
            _fail("auth.ldap_refused", "disabled", username, ip, dn=entry.dn)
            raise ActionError(_("该账号已在目录中停用，无法登录。"), status=403)
        if fields["username"] != username and (  # the same name was already asked for above
                Person.objects.filter(username=fields["username"]).exclude(source="ldap").exists()):
            _fail("auth.ldap_refused", "local-account-exists", username, ip, dn=entry.dn)
            raise ActionError(_("本地账号“%(u)s”与目录账号同名，请联系系统管理员。")
                              % {"u": fields["username"]}, status=409)
        refused = cfg.refusal(fetched.groups)
        if refused:
            _fail("auth.ldap_refused", refused, username, ip, dn=entry.dn)
            raise ActionError(refusal_message(refused), status=403)
        specs = specs_from_snapshot(cfg, fetched)

        with transaction.atomic():  # the person, their posts and the sign-in's audit entries: one commit
            try:
                person, _stats = do_apply_person(fields, entry.dn, specs, ip=ip)
            except IntegrityError:
                # The same person signing in twice at once: the other request created them; update instead.
                person, _stats = do_apply_person(fields, entry.dn, specs, ip=ip)
            audit.record("auth.ldap_login", person=person, ip=ip, data={"dn": entry.dn,
                                                                         "posts": [s.unit.id for s in specs]})
            if not specs:  # the no-post page says what is missing
                audit.record("auth.ldap_no_unit", person=person, ip=ip, data={
                    "dn": entry.dn, "codes": entry.all(cfg.person_unit_attr)[:10], "ou": parent_dn(entry.dn)})
        if cfg.recheck_seconds > 0:
            cache.set(_ok_key(person.id), 1, cfg.recheck_seconds)
        return person if person.is_active else None

    def get_user(self, user_id):
        from office.models import Person

        person = Person.objects.filter(pk=user_id).first()
        if person is None or not person.is_active:
            return None
        if person.source != "ldap":
            return person
        cfg = get_config()
        if cfg is None:
            return person
        return person if still_valid(cfg, person) else None


def _ok_key(person_id):
    return f"yw:ldap:ok:{person_id}"


# --- re-checks off the request path -----------------------------------------------------------------
# Under ASGI every synchronous view of a process runs on ONE thread: a re-check that waits on a hung
# directory would stall everyone's pages. The directory is asked from this pool; a request waits at
# most LDAP_RECHECK_WAIT_MS for the answer, and not at all while another re-check is already overdue
# or since a re-check found the directory unavailable (until one succeeds again).
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ldap-recheck")
_pending = {}  # person id → (Future, started monotonic)
_pending_lock = threading.Lock()


# When the last re-check found the directory unavailable (monotonic time), else None. Until one
# succeeds again no request waits for a re-check: they go on in the background (per process).
_failing_since = None


def _fetch_for_recheck(cfg, username, dn):
    global _failing_since
    try:
        snap = fetch_person(cfg, username, dn)
    except DirectoryUnavailable:
        if _failing_since is None:
            _failing_since = time.monotonic()
        cache.set(DOWN_KEY, 1, max(1, min(cfg.recheck_seconds or 30, 30)))
        raise
    _failing_since = None
    return snap


def _directory_slow(cfg, now):
    return any(not f.done() and now - started > cfg.recheck_wait for f, started in _pending.values())


def recheck_snapshot(cfg, person):
    """The directory's answer about this person if it comes within LDAP_RECHECK_WAIT_MS, else None
    (the question stays in flight; its answer is used at the person's next request)."""
    now = time.monotonic()
    with _pending_lock:
        pending = _pending.get(person.id)
        if pending is not None and pending[0].done() and now - pending[1] > max(cfg.recheck_seconds, 60):
            pending = _pending.pop(person.id) and None  # an answer too old to act on: ask again
        if pending is None:
            if _directory_slow(cfg, now):
                return None  # another re-check is already waiting on the directory: do not queue behind it
            future = _pool.submit(_fetch_for_recheck, cfg, person.username, person.ldap_dn)
            pending = _pending[person.id] = (future, now)
    future, started = pending
    try:
        # Only the request that asked waits, and only while the directory has been answering; later
        # ones take the answer once it is there.
        wait = cfg.recheck_wait if started == now and _failing_since is None else 0
        snap = future.result(timeout=wait)
    except FutureTimeout:
        return None
    except DirectoryUnavailable:
        snap = None
    except Exception:  # noqa: BLE001 - a re-check must never break the page
        log.exception("LDAP re-check of %s failed", person.username)
        snap = None
    with _pending_lock:
        if _pending.get(person.id) is pending:
            del _pending[person.id]
    return snap


def still_valid(cfg, person):
    """Re-check a signed-in directory person at most every LDAP_RECHECK_SECONDS.

    Gone, disabled or refused by the groups → deactivated (their sessions end). Otherwise their name,
    posts and roles follow the directory (group changes reach them here, not only at the next sync).
    Directory unreachable or slow → still valid.
    """
    if cfg.recheck_seconds > 0 and cache.get(_ok_key(person.id)):
        return True
    if cache.get(DOWN_KEY):
        return True
    snap = recheck_snapshot(cfg, person)
    if snap is None:
        return True
    if snap.entry is not None and not is_disabled(cfg, snap.entry) and not cfg.refusal(snap.groups):
        try:
            do_apply_person(person_fields(cfg, snap.entry, person.username), snap.entry.dn,
                            specs_from_snapshot(cfg, snap), reason="recheck", person_id=person.id)
        except ActionError as exc:
            log.warning("LDAP re-check of %s not applied: %s", person.username, exc.message)
        if cfg.recheck_seconds > 0:
            cache.set(_ok_key(person.id), 1, cfg.recheck_seconds)
        return True
    if not snap.entries:
        reason = "gone"
    elif snap.entry is None:
        reason = "ambiguous"
    elif is_disabled(cfg, snap.entry):
        reason = "disabled"
    else:
        reason = cfg.refusal(snap.groups)
    do_deactivate_person(person, reason=reason)
    return False
