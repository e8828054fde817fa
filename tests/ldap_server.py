"""A throwaway OpenLDAP (Debian slapd) for tests and benchmarks.

`Slapd(workdir).start()` writes a slapd.conf (core/cosine/nis/inetorgperson schemas, back_mdb,
the memberof overlay, a test CA and server certificate for START_TLS), starts slapd on a free
loopback port and waits until it answers. Entries are loaded with `ldapadd` (not slapadd) so the
memberof overlay fills in memberOf.

The test directory (`TEST_ORG_LDIF`) mirrors the four-level test organisation:
咸阳市 → 秦都区 → 人民路街道办事处 → 人民路社区 (the units of office/seed.py build_small), each ou carrying its administrative code in
businessCategory, groups mapping to roles, a disabled person, a person in two units, and a
username ("liuyang") that matches two entries.
"""
import base64
import datetime
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

SUFFIX = "dc=xianyang,dc=gov,dc=cn"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret-for-tests"
SERVICE_DN = f"cn=yw-reader,ou=services,{SUFFIX}"
SERVICE_PW = "reader-secret-for-tests"
GROUP_BASE = f"ou=groups,{SUFFIX}"
PEOPLE_BASE = f"ou=people,{SUFFIX}"
PASSWORD = "Passw0rd-测试"  # every test person's password

CITY_DN = f"ou=咸阳市,{SUFFIX}"
COUNTY_DN = f"ou=秦都区,{CITY_DN}"
COUNTY_OFFICE_DN = f"ou=秦都区人民政府办公室,{COUNTY_DN}"
TOWN_DN = f"ou=人民路街道办事处,{COUNTY_DN}"
VILLAGE_DN = f"ou=人民路社区,{TOWN_DN}"
CITY_OFFICE_DN = f"ou=咸阳市人民政府办公室,{CITY_DN}"
NEW_VILLAGE_DN = f"ou=和平社区,{TOWN_DN}"
NEW_DEPARTMENT_DN = f"ou=秦都区应急管理局,{COUNTY_DN}"

# Settings the LDAP code reads, beyond the URL/TLS ones that depend on the running server.
BASE_SETTINGS = {
    "LDAP_BIND_DN": SERVICE_DN,
    "LDAP_BIND_PASSWORD": SERVICE_PW,
    "LDAP_USER_BASE": SUFFIX,
    "LDAP_UNIT_BASE": SUFFIX,
    "LDAP_USER_FILTER": "(uid={username})",
    "LDAP_GROUP_BASE": GROUP_BASE,
    "LDAP_UNIT_CODE_ATTR": "businessCategory",
    "LDAP_PERSON_UNIT_ATTR": "departmentNumber",
    "LDAP_DISABLED_ATTR": "employeeType",
    "LDAP_DISABLED_VALUES": ["disabled"],
    "LDAP_RECHECK_SECONDS": 300,
    "LDAP_TIMEOUT": 3,
    # Tests wait for a re-check's answer (a loaded CI machine may need more than the default 0.25 s).
    "LDAP_RECHECK_WAIT_MS": 10000,
}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- certificates --------------------------------------------------------------------------
def make_test_ca(folder, names=("localhost", "127.0.0.1")):
    """A test CA and a server certificate for `names` (DNS names or IP addresses). Returns (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    def _san(name):
        try:
            return x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            return x509.DNSName(name)

    folder = Path(folder)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Yiwangtong test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


# --- LDIF ----------------------------------------------------------------------------------
def _line(attr, value):
    value = str(value)
    if value.isascii() and not value.startswith((" ", ":", "<")) and "\n" not in value:
        return f"{attr}: {value}"
    return f"{attr}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def ldif(entries):
    """entries: iterable of (dn, {attr: value or [values]}) → LDIF text (non-ASCII base64-encoded)."""
    out = []
    for dn, attrs in entries:
        out.append(_line("dn", dn))
        for attr, values in attrs.items():
            for value in values if isinstance(values, (list, tuple)) else [values]:
                out.append(_line(attr, value))
        out.append("")
    return "\n".join(out) + "\n"


def ou(dn, code=None, **extra):
    attrs = {"objectClass": ["top", "organizationalUnit"], "ou": dn.split(",", 1)[0].split("=", 1)[1]}
    if code:
        attrs["businessCategory"] = code
    attrs.update(extra)
    return dn, attrs


def person(dn, uid, cn, *, mail=None, phone=None, title=None, codes=(), disabled=False, password=PASSWORD):
    attrs = {"objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
             "uid": uid, "cn": cn, "sn": cn[:1], "userPassword": password}
    if mail:
        attrs["mail"] = mail
    if phone:
        attrs["telephoneNumber"] = phone
    if title:
        attrs["title"] = title
    if codes:
        attrs["departmentNumber"] = list(codes)
    if disabled:
        attrs["employeeType"] = "disabled"
    return dn, attrs


def group(dn, members):
    return dn, {"objectClass": ["top", "groupOfNames"], "cn": dn.split(",", 1)[0].split("=", 1)[1],
                "member": list(members)}


def base_entries():
    return [
        (SUFFIX, {"objectClass": ["top", "dcObject", "organization"], "dc": "xianyang", "o": "咸阳市"}),
        ou(f"ou=services,{SUFFIX}"),
        (SERVICE_DN, {"objectClass": ["top", "person", "simpleSecurityObject"], "cn": "yw-reader",
                      "sn": "reader", "userPassword": SERVICE_PW}),
        ou(GROUP_BASE),
        ou(PEOPLE_BASE),
    ]


# Persons of the test directory (uid → dn), used by the tests.
WANGFANG = f"uid=wangfang,{COUNTY_OFFICE_DN}"      # 秦都区政府办 文书 (secretary)
LIJUN = f"uid=lijun,{COUNTY_OFFICE_DN}"            # 秦都区 leader
ZHAOMIN = f"uid=zhaomin,{TOWN_DN}"                 # 街道 handler + 社区 (two units)
SUNLI = f"uid=sunli,{VILLAGE_DN}"                  # disabled
CHENJING = f"uid=chenjing,{PEOPLE_BASE}"           # flat entry, unit by code only
ZHOUQIANG = f"uid=zhouqiang,{CITY_OFFICE_DN}"      # city leader
LIUYANG_A = f"uid=liuyang,{COUNTY_OFFICE_DN}"      # the same uid twice
LIUYANG_B = f"uid=liuyang,{PEOPLE_BASE}"


def org_entries():
    return base_entries() + [
        ou(CITY_DN, "610400000000"),
        ou(CITY_OFFICE_DN),
        ou(COUNTY_DN, "610402000000"),
        ou(COUNTY_OFFICE_DN),
        ou(TOWN_DN, "610402001000"),
        ou(VILLAGE_DN, "610402001001"),
        ou(NEW_VILLAGE_DN, "610402001003"),      # not in the organisation yet: ldap_sync creates it
        ou(NEW_DEPARTMENT_DN),                   # a department (no code) the sync creates
        person(WANGFANG, "wangfang", "王芳", mail="wangfang@qindu.gov.cn", phone="029-33210001", title="文书"),
        person(LIJUN, "lijun", "李军", mail="lijun@qindu.gov.cn", phone="029-33210002", title="区长"),
        person(ZHAOMIN, "zhaomin", "赵敏", mail="zhaomin@qindu.gov.cn", title="干事", codes=["610402001001"]),
        person(SUNLI, "sunli", "孙丽", title="文书", disabled=True),
        person(CHENJING, "chenjing", "陈静", mail="chenjing@xianyang.gov.cn", title="科员", codes=["610400000000"]),
        person(ZHOUQIANG, "zhouqiang", "周强", mail="zhouqiang@xianyang.gov.cn", title="市长"),
        person(LIUYANG_A, "liuyang", "刘洋"),
        person(LIUYANG_B, "liuyang", "刘洋"),
        # Global groups (anywhere in the tree): a role in every post of the member.
        group(f"cn=yw-leader,{GROUP_BASE}", [ZHOUQIANG, LIJUN]),
        group(f"cn=yw-handler,{GROUP_BASE}", [ZHAOMIN, CHENJING]),
        # A group inside a unit's ou: the role applies to the member's post in that unit only.
        group(f"cn=文书,{COUNTY_OFFICE_DN}", [WANGFANG]),
        group(f"cn=文书,{VILLAGE_DN}", [ZHAOMIN, SUNLI]),
    ]


TEST_ORG_LDIF_ENTRIES = org_entries


# --- the server ------------------------------------------------------------------------------
SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
{tls}
sizelimit {sizelimit}
threads 4
{security}

database mdb
maxsize 2147483648
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {dir}/db
index objectClass eq
index uid eq
index ou eq
index member eq
dbnosync
{limits}
overlay memberof

access to attrs=userPassword
    by self =xw
    by anonymous auth
    by * none
access to *
    by dn.exact="{service}" read
    by self read
    by * none
"""


class Slapd:
    def __init__(self, workdir, *, port=None, tls=True, sizelimit=500, service_unlimited=True,
                 cert_names=("localhost", "127.0.0.1")):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.ldaps_port = free_port() if tls else None
        self.tls = tls
        self.cert_names = cert_names
        self.sizelimit = sizelimit
        # As a directory administrator would: the sync's service account may page through everything.
        self.service_unlimited = service_unlimited
        self.ca_file = self.cert_file = self.key_file = None
        self._configured = False

    @property
    def url(self):
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self):
        return f"ldaps://127.0.0.1:{self.ldaps_port}" if self.ldaps_port else None

    def _configure(self):
        (self.dir / "db").mkdir(exist_ok=True)
        tls = ""
        if self.tls:
            self.ca_file, self.cert_file, self.key_file = make_test_ca(self.dir, self.cert_names)
            tls = (f"TLSCACertificateFile {self.ca_file}\nTLSCertificateFile {self.cert_file}\n"
                   f"TLSCertificateKeyFile {self.key_file}")
        # With TLS configured, simple binds without it are refused: a client that forgets START_TLS fails.
        security = "security simple_bind=128" if self.tls else ""
        limits = f'limits dn.exact="{SERVICE_DN}" size.prtotal=unlimited' if self.service_unlimited else ""
        conf = SLAPD_CONF.format(dir=self.dir, tls=tls, security=security, limits=limits,
                                 sizelimit=self.sizelimit, suffix=SUFFIX,
                                 rootdn=ROOT_DN, rootpw=ROOT_PW, service=SERVICE_DN)
        (self.dir / "slapd.conf").write_text(conf, encoding="utf-8")
        check = subprocess.run(["slaptest", "-u", "-f", str(self.dir / "slapd.conf")],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"slaptest failed: {check.stderr}")
        self._configured = True

    def start(self, timeout=60):  # generous: CI machines may be loaded
        if not self._configured:
            self._configure()
        listen = f"{self.url}/" + (f" {self.ldaps_url}/" if self.ldaps_url else "")
        subprocess.run(["slapd", "-f", str(self.dir / "slapd.conf"), "-h", listen], check=True, capture_output=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                probe = subprocess.run(["ldapsearch", *self._tool_args(), "-b", "", "-s", "base", "-LLL",
                                        "(objectClass=*)", "1.1"], capture_output=True, env=self._tool_env())
                if probe.returncode == 0:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"slapd did not start on {self.url}")

    def pid(self):
        try:
            return int((self.dir / "slapd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=10, sig=signal.SIGTERM):
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        try:
            (self.dir / "slapd.pid").unlink()
        except OSError:
            pass

    def _tool_args(self):
        return ["-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW] + (["-ZZ"] if self.tls else [])

    def _tool_env(self):
        env = dict(os.environ)
        if self.tls:
            env["LDAPTLS_CACERT"] = str(self.ca_file)
            if "127.0.0.1" not in self.cert_names:  # an impostor server: the admin tools still reach it
                env["LDAPTLS_REQCERT"] = "never"
        return env

    def _run_ldif(self, tool, text, *extra):
        result = subprocess.run([tool, *self._tool_args(), *extra], input=text.encode("utf-8"),
                                capture_output=True, env=self._tool_env())
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.decode(errors='replace')}")
        return result

    def add(self, entries):
        return self._run_ldif("ldapadd", ldif(entries))

    def add_ldif_file(self, path):
        result = subprocess.run(["ldapadd", *self._tool_args(), "-f", str(path)], capture_output=True,
                                env=self._tool_env())
        if result.returncode != 0:
            raise RuntimeError(f"ldapadd failed: {result.stderr.decode(errors='replace')[:2000]}")

    def modify(self, dn, changes):
        """changes: list of (op, attr, values) with op in add/replace/delete."""
        lines = [_line("dn", dn), "changetype: modify"]
        for op, attr, values in changes:
            lines.append(f"{op}: {attr}")
            for value in values if isinstance(values, (list, tuple)) else [values]:
                lines.append(_line(attr, value))
            lines.append("-")
        return self._run_ldif("ldapmodify", "\n".join(lines) + "\n")

    def delete(self, dn):
        result = subprocess.run(["ldapdelete", *self._tool_args(), dn], capture_output=True,
                                env=self._tool_env())
        if result.returncode != 0:
            raise RuntimeError(f"ldapdelete failed: {result.stderr.decode(errors='replace')}")

    def settings(self, **overrides):
        values = dict(BASE_SETTINGS)
        values.update({"LDAP_URL": [self.url], "LDAP_START_TLS": bool(self.tls),
                       "LDAP_CA_FILE": str(self.ca_file) if self.tls else ""})
        values.update(overrides)
        return values

    def destroy(self):
        self.stop(sig=signal.SIGKILL)  # thrown away: no need to wait for a clean shutdown
        shutil.rmtree(self.dir, ignore_errors=True)


class Blackhole:
    """A TCP port that accepts connections and never answers (a hung directory server)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"ldap://127.0.0.1:{self.port}"
        self._held = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self._held.append(conn)
            except OSError:
                continue

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self.sock.close()


def closed_port_url():
    """A loopback URL on which nothing listens (a stopped server)."""
    return f"ldap://127.0.0.1:{free_port()}"


# --- pytest fixtures (import them into a test module) ---------------------------------------
try:
    import pytest
except ImportError:  # used by the benchmark without pytest
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="module")
    def slapd_server(tmp_path_factory):
        server = Slapd(tmp_path_factory.mktemp("slapd")).start()
        server.add(org_entries())
        yield server
        server.destroy()

    @pytest.fixture
    def ldap_settings(settings, slapd_server):
        """Point the LDAP settings at the module's slapd (START_TLS with the test CA)."""
        for key, value in slapd_server.settings().items():
            setattr(settings, key, value)
        # The directory backend first: it checks every username (NUL, UTF-8, length) and leaves local
        # accounts to the local backend without asking the directory.
        settings.AUTHENTICATION_BACKENDS = ["office.ldap.LDAPBackend", "office.auth.LocalBackend"]
        from django.core.cache import cache
        cache.clear()
        from office import ldap
        ldap._dead_until.clear()
        return settings



# --- a Xianyang-sized generated directory (benchmarks) ------------------------------------------
_COUNTIES = [
    ("610402", "秦都区"), ("610403", "杨陵区"), ("610404", "渭城区"), ("610422", "三原县"), ("610423", "泾阳县"),
    ("610424", "乾县"), ("610425", "礼泉县"), ("610426", "永寿县"), ("610428", "长武县"), ("610429", "旬邑县"),
    ("610430", "淳化县"), ("610431", "武功县"), ("610481", "兴平市"), ("610482", "彬州市"),
]
_WORDS = "东西南北中新城关桥河渠原坡塬庄堡寨店铺湾沟泉川阳安宁康乐和平兴永定丰泰华明光红花山峪"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛"


def _word(i, n=2):
    out = ""
    for _k in range(n):
        out += _WORDS[i % len(_WORDS)]
        i //= len(_WORDS)
    return out


def generated_entries(units=3000, people=10000, *, seed=3):
    """A directory of about `units` ous (1 city, 14 counties, ~150 towns, villages) and `people` persons.

    Every ou carries its 12-digit code; persons sit in units, one in twenty also holds a second unit
    (departmentNumber); role groups: global yw-leader/yw-handler, and a 文书 group inside each town.
    Returns (entries, unit_count, person_count).
    """
    import random

    rng = random.Random(seed)
    entries = base_entries()
    city = f"ou=咸阳市,{SUFFIX}"
    entries.append(ou(city, "610400000000"))
    unit_dns = [(city, "610400000000")]
    towns_total = 150
    villages_total = units - 1 - len(_COUNTIES) - towns_total
    town_dns = []
    for ci, (code, name) in enumerate(_COUNTIES):
        cdn = f"ou={name},{city}"
        entries.append(ou(cdn, code + "000000"))
        unit_dns.append((cdn, code + "000000"))
        n_towns = towns_total // len(_COUNTIES) + (1 if ci < towns_total % len(_COUNTIES) else 0)
        for t in range(1, n_towns + 1):
            tname = _word(ci * 50 + t) + ("街道办事处" if t % 4 == 0 else "镇")
            tcode = f"{code}{t:03d}000"
            tdn = f"ou={tname},{cdn}"
            entries.append(ou(tdn, tcode))
            unit_dns.append((tdn, tcode))
            town_dns.append((tdn, tcode))
    for v in range(villages_total):
        tdn, tcode = town_dns[v % len(town_dns)]
        index = v // len(town_dns) + 1
        # Unique under the town: a distinct two-character word for each index (index < 65).
        vname = _word(index * 31 + 7) + ("社区" if index % 5 == 0 else "村")
        vcode = f"{tcode[:9]}{index:03d}"
        vdn = f"ou={vname},{tdn}"
        entries.append(ou(vdn, vcode))
        unit_dns.append((vdn, vcode))
    person_dns = []
    leaders, handlers, clerks = [], [], {}
    for p in range(people):
        udn, _ucode = unit_dns[p % len(unit_dns)]
        uid = f"p{p:05d}"
        cn = _SURNAMES[p % len(_SURNAMES)] + _GIVEN[(p // len(_SURNAMES)) % len(_GIVEN)] + _GIVEN[rng.randrange(len(_GIVEN))]
        dn = f"uid={uid},{udn}"
        codes = [unit_dns[rng.randrange(len(unit_dns))][1]] if p % 20 == 0 else []
        entries.append(person(dn, uid, cn, mail=f"{uid}@xianyang.gov.cn", phone=f"029-{33000000 + p}",
                              title="干部", codes=codes, password=f"pw-{uid}"))
        person_dns.append(dn)
        if p % 50 == 0:
            leaders.append(dn)
        elif p % 3 == 0:
            handlers.append(dn)
        town = next((t for t, _c in town_dns if dn.endswith("," + t)), None)
        if town and len(clerks.setdefault(town, [])) < 2:
            clerks[town].append(dn)
    entries.append(group(f"cn=yw-leader,{GROUP_BASE}", leaders))
    entries.append(group(f"cn=yw-handler,{GROUP_BASE}", handlers))
    for town, members in clerks.items():
        entries.append(group(f"cn=文书,{town}", members))
    return entries, len(unit_dns), len(person_dns)
