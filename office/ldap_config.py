"""Parsers for the LDAP settings that are maps (used by office/settings.py; no model imports here)."""
from django.core.exceptions import ImproperlyConfigured

ROLES = ("leader", "secretary", "handler", "archivist", "admin")
DEFAULT_ATTR_MAP = {
    "username": "uid",
    "display_name": "cn",
    "email": "mail",
    "phone": "telephoneNumber",
    "title": "title",
}
# A group named (cn) like a key gives that role; a key containing "=" is a full group DN.
DEFAULT_GROUP_ROLE_MAP = {
    "yw-leader": "leader", "yw-secretary": "secretary", "yw-handler": "handler",
    "yw-archivist": "archivist", "yw-admin": "admin",
    "领导": "leader", "秘书": "secretary", "文书": "secretary", "承办人": "handler",
    "档案员": "archivist", "系统管理员": "admin",
}


def parse_group_role_map(text, name="LDAP_GROUP_ROLE_MAP"):
    """'group=role;group2=role2' (group: a cn, or a full DN — the last '=' splits) → dict.

    None or unset → the default map; an empty string → no group gives a role.
    """
    if text is None:
        return dict(DEFAULT_GROUP_ROLE_MAP)
    result = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ImproperlyConfigured(f"{name}: {item!r} is not group=role")
        group, role = item.rsplit("=", 1)
        role = role.strip()
        if role not in ROLES:
            raise ImproperlyConfigured(f"{name}: unknown role {role!r} (use {', '.join(ROLES)})")
        if not group.strip():
            raise ImproperlyConfigured(f"{name}: {item!r} has no group")
        result[group.strip()] = role
    return result


def parse_attr_map(text, name="LDAP_ATTR_MAP"):
    """'display_name=displayName,phone=mobile' → the full map (unnamed fields keep their default)."""
    result = dict(DEFAULT_ATTR_MAP)
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        field, _sep, attr = item.partition("=")
        if field.strip() not in DEFAULT_ATTR_MAP or not attr.strip():
            raise ImproperlyConfigured(f"{name}: {item!r} (fields: {', '.join(DEFAULT_ATTR_MAP)})")
        result[field.strip()] = attr.strip()
    return result
