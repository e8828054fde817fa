"""行文规则 (gongwen.md, Arts. 14–17) as checks over the organisation.

Each check reads units only (never writes) and raises RuleViolation naming the rule it applies.
`Org` loads the ancestors of every unit involved in one query, so checking a dispatch to 3,000
units costs a constant number of queries.
"""
import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office.errors import ActionError
from office.models import Unit, UnitKind

RULES = {
    "no_skip": gettext_lazy("不得越级行文"),
    "upward_one_main": gettext_lazy("上行文只主送一个上级机关"),
    "upward_to_superior": gettext_lazy("请示、报告只报送上级机关"),
    "upward_signer": gettext_lazy("上行文须有签发人"),
    "upward_no_cc_down": gettext_lazy("请示、报告不得抄送下级机关"),
    "report_no_request": gettext_lazy("报告不得夹带请示事项"),
    "down_within_authority": gettext_lazy("下行文只发给本机关管辖范围内的单位"),
    "dept_no_directive": gettext_lazy("政府部门不得向下级政府发布指令性公文"),
    "internal_no_outside": gettext_lazy("内设机构不得对外正式行文"),
    "joint_same_level": gettext_lazy("联合行文限于同级机关"),
    "approval_answers_request": gettext_lazy("批复只用于答复下级机关的请示"),
    "forward_add_view": gettext_lazy("转报下级机关的请示、报告须提出本级意见"),
    "no_self": gettext_lazy("不得向本机关行文"),
    "unclassified_only": gettext_lazy("本系统只办理非涉密公文"),
}

# --- the rule table (gongwen.md, Art. 14): direction of every 文种 ------------------------------
UP, DOWN, LATERAL, ANY = "up", "down", "lateral", "any"
DIRECTION_LABELS = {UP: gettext_lazy("上行文"), DOWN: gettext_lazy("下行文"), LATERAL: gettext_lazy("平行文"),
                    ANY: gettext_lazy("可上行、下行或平行")}
# 意见 may go up, down or across and takes the rules of the direction it goes (per recipient).
# 公告/通告/公报 are published; addressed to units, they go down the line like a notice.
# 议案 goes to the same level's people's congress (not a unit of this graph); it is treated as 平行.
# 纪要 records a meeting and goes to whoever took part or is concerned: 平行.
DOC_DIRECTIONS = {
    "命令": DOWN, "决定": DOWN, "决议": DOWN, "批复": DOWN, "通知": DOWN, "通报": DOWN,
    "公告": DOWN, "通告": DOWN, "公报": DOWN,
    "请示": UP, "报告": UP,
    "意见": ANY,
    "函": LATERAL, "议案": LATERAL, "纪要": LATERAL,
}

# --- who the recipient is, seen from the sender (the organisation graph) ------------------------
SENDER_KINDS = {
    "government": gettext_lazy("政府（机关本身）"),
    "office": gettext_lazy("政府办公室"),
    "bureau": gettext_lazy("政府部门"),
    "internal": gettext_lazy("内设机构"),
}
RELATIONS = {
    "self": gettext_lazy("本机关"),
    "superior": gettext_lazy("直接上级机关"),
    "superior_superior": gettext_lazy("上级的上级机关"),
    "line_superior": gettext_lazy("上级业务主管部门"),
    "superior_department": gettext_lazy("上级政府的部门"),
    "higher_department": gettext_lazy("更上级政府的部门"),
    "own_department": gettext_lazy("本级政府的部门"),
    "own_section": gettext_lazy("本部门的内设机构"),
    "same_government": gettext_lazy("同一政府的其他部门"),
    "subordinate": gettext_lazy("直接下级机关"),
    "deeper_subordinate": gettext_lazy("下级的下级单位"),
    "subordinate_department": gettext_lazy("下级政府的部门"),
    "line_subordinate": gettext_lazy("下级对口部门"),
    "peer": gettext_lazy("同一上级下的同级单位"),
    "outside": gettext_lazy("其他地区的单位"),
}
# Relations that skip a level (越级): allowed only with every skipped government copied (抄送).
SKIP_RELATIONS = frozenset({"superior_superior", "deeper_subordinate"})
_ALL = frozenset(RELATIONS) - {"self"}
_GOV_DOWN = frozenset({"own_department", "own_section", "subordinate", "subordinate_department", "deeper_subordinate"})
# Per direction and sender kind, the relations a 主送 recipient may have.
ALLOWED = {
    # a government, and its 办公室 by authorisation: everything under it; a department: its own
    # sections and the same professional line one level down.
    DOWN: {"government": _GOV_DOWN, "office": _GOV_DOWN,
           "bureau": frozenset({"own_section", "line_subordinate"}), "internal": frozenset({"own_section"})},
    # up one level to one unit (a department also to its line's superior department); 越级 with a copy.
    UP: {"government": frozenset({"superior", "superior_superior"}),
         "office": frozenset({"superior", "line_superior", "superior_superior"}),
         "bureau": frozenset({"superior", "line_superior", "superior_superior"}),
         "internal": frozenset({"superior"})},
    LATERAL: {kind: _ALL for kind in SENDER_KINDS},
}
# How 意见 (ANY) reads each relation.
_UP_RELATIONS = frozenset({"superior", "superior_superior", "line_superior"})
_DOWN_RELATIONS = frozenset({"own_department", "own_section", "subordinate", "deeper_subordinate",
                             "subordinate_department", "line_subordinate"})

UPWARD = tuple(t for t, d in DOC_DIRECTIONS.items() if d == UP)


def direction_of(doc_type):
    return DOC_DIRECTIONS.get(doc_type, LATERAL)


def direction_for(doc_type, relation):
    """The direction a document of `doc_type` takes to a recipient of `relation`."""
    d = direction_of(doc_type)
    if d != ANY:
        return d
    if relation in _UP_RELATIONS:
        return UP
    if relation in _DOWN_RELATIONS:
        return DOWN
    return LATERAL


def allowed(doc_type, sender_kind, relation):
    """(allowed, rule name) for a 主送 recipient: the rule table alone, without the 越级 copy."""
    if relation == "self":
        return False, "no_self"
    d = direction_for(doc_type, relation)
    if relation in ALLOWED[d][sender_kind]:
        return True, None
    if d == UP:
        return False, "upward_to_superior"
    if d == DOWN and sender_kind == "bureau" and relation in ("subordinate", "deeper_subordinate",
                                                              "subordinate_department"):
        return False, "dept_no_directive"
    return False, "down_within_authority"


class RuleViolation(ActionError):
    def __init__(self, rule, detail):
        self.rule = rule
        message = _("违反行文规则“%(rule)s”：%(detail)s") % {"rule": RULES[rule], "detail": detail}
        super().__init__(message, status=400, code=rule)


# --- classified markings (Art. 26: those go through 机要 channels, never here) ----------------
CLASSIFIED_LEVELS = ("秘密", "机密", "绝密")
_MARK_RE = re.compile(
    r"(绝密|机密|秘密)\s*[★☆*]"  # 秘密★1年
    r"|密\s*级\s*[:：]?\s*(绝密|机密|秘密)"  # 密级：机密
    r"|^[\s\[【（(〔]*(绝密|机密|秘密)[\]】）)〕]?\s*$"  # a line that is only the marking
    r"|^[\[【（(〔]\s*(绝密|机密|秘密)\s*[\]】）)〕]",  # 【秘密】title
    re.MULTILINE,
)


def classified_marking(text):
    """The marking found in `text` (秘密/机密/绝密), or None. Ordinary words (保守秘密) pass."""
    if not text:
        return None
    m = _MARK_RE.search(str(text))
    if not m:
        return None
    return next(g for g in m.groups() if g)


def check_unclassified(classification="", **texts):
    """Refuse a document whose 密级 field or obviously marked text says 秘密, 机密 or 绝密."""
    level = (classification or "").strip()
    if level and level not in ("无", "非密", "公开", "内部"):
        found = next((c for c in CLASSIFIED_LEVELS if c in level), level)
        raise RuleViolation("unclassified_only", _("标有“%(level)s”的公文须通过机要渠道办理，不能在此起草或传输。")
                            % {"level": found})
    for label, text in texts.items():
        values = text if isinstance(text, (list, tuple)) else [text]
        for value in values:
            found = classified_marking(value)
            if found:
                raise RuleViolation("unclassified_only", _("%(field)s中有密级标志“%(level)s”，涉密公文须通过机要渠道办理。")
                                    % {"field": label, "level": found})


# --- the organisation, loaded once -----------------------------------------------------------
class Org:
    """Units with all their ancestors in memory: government, level and relations without queries."""

    def __init__(self, units):
        self.by_id = {u.id: u for u in units}
        need = set()
        for u in units:
            need.update(_path_ids(u))
        missing = need - set(self.by_id)
        if missing:
            for u in Unit.objects.filter(id__in=missing):
                self.by_id[u.id] = u

    def add(self, units):
        units = [u for u in units if u is not None]
        need = {u.id for u in units if u.id not in self.by_id}
        for u in units:
            self.by_id.setdefault(u.id, u)
            need.update(i for i in _path_ids(u) if i not in self.by_id)
        if need:
            for u in Unit.objects.filter(id__in=need):
                self.by_id[u.id] = u

    def government(self, unit):
        for uid in reversed(_path_ids(unit)):
            u = self.by_id.get(uid)
            if u is not None and u.kind != UnitKind.DEPARTMENT:
                return u
        return unit

    def level(self, unit):
        g = self.government(unit)
        return {"city": 1, "county": 2, "town": 3, "village": 4}.get(g.kind)

    def governments_between(self, upper, lower):
        """Government units strictly between `upper` and `lower` (lower is below upper)."""
        ids = _path_ids(lower)
        if upper.id not in ids:
            return []
        inner = ids[ids.index(upper.id) + 1:-1]
        return [self.by_id[i] for i in inner if i in self.by_id and self.by_id[i].kind != UnitKind.DEPARTMENT]

    def relation(self, sender, recipient):
        """'down', 'up', 'same' (inside one government) or 'lateral', between governments."""
        gs, gr = self.government(sender), self.government(recipient)
        if gs.id == gr.id:
            return "same"
        if gr.path.startswith(gs.path):
            return "down"
        if gs.path.startswith(gr.path):
            return "up"
        return "lateral"

    def sender_kind(self, unit):
        """"government", "office" (a government's 办公室), "bureau" (a department with its own
        机关代字) or "internal" (内设机构)."""
        if unit.kind != UnitKind.DEPARTMENT:
            return "government"
        if unit.is_office:
            return "office"
        return "bureau" if is_organ_department(unit) else "internal"

    def parent_government(self, unit):
        g = self.government(unit)
        parent = self.by_id.get(g.parent_id) if g.parent_id else None
        return self.government(parent) if parent is not None else None

    def line_key(self, unit):
        """A department's professional line: its name without its government's (秦都区财政局 → 财政局)."""
        g = self.government(unit)
        name = unit.name
        for prefix in (g.name, g.short_name, g.name.replace("人民政府", "")):
            if prefix and name.startswith(prefix):
                name = name[len(prefix):]
                break
        return name.removeprefix("人民").lstrip("市县区镇")

    def depth_between(self, upper, lower):
        """Government levels from `upper` down to `lower` (governments; None unless upper is above)."""
        ids = _path_ids(lower)
        if upper.id not in ids:
            return None
        return len([i for i in ids[ids.index(upper.id) + 1:]
                    if i in self.by_id and self.by_id[i].kind != UnitKind.DEPARTMENT])

    def relation_of(self, sender, recipient):
        """Who `recipient` is for `sender`: one of RELATIONS (see the table above)."""
        if recipient.id == sender.id:
            return "self"
        kind = self.sender_kind(sender)
        gs, gr = self.government(sender), self.government(recipient)
        is_dept = kind != "government"
        organ = recipient.kind != UnitKind.DEPARTMENT or recipient.is_office  # a government or its office
        if gs.id == gr.id:
            if is_dept and sender.path.startswith(recipient.path):
                return "superior"  # its own government (or the department above a section)
            if is_dept and recipient.is_office and recipient.parent_id == gs.id and kind != "office":
                return "superior"
            if is_dept and recipient.path.startswith(sender.path):
                return "own_section"
            if kind in ("government", "office"):
                return "superior" if kind == "office" and recipient.id == gs.id else "own_department"
            return "same_government"
        up = self.depth_between(gr, gs)
        if up is not None:  # the recipient's government is above the sender's
            levels = up + (1 if is_dept else 0)
            if is_dept and up == 1 and recipient.kind == UnitKind.DEPARTMENT \
                    and self.line_key(recipient) == self.line_key(sender):
                return "line_superior"
            if organ:
                return "superior" if levels == 1 else "superior_superior"
            return "superior_department" if up == 1 else "higher_department"
        down = self.depth_between(gs, gr)
        if down is not None:  # below the sender's government
            if organ:
                return "subordinate" if down == 1 else "deeper_subordinate"
            if kind == "bureau" and down == 1 and self.line_key(recipient) == self.line_key(sender):
                return "line_subordinate"
            return "subordinate_department" if down == 1 else "deeper_subordinate"
        if gs.parent_id and gs.parent_id == gr.parent_id:
            return "peer"
        return "outside"


def _path_ids(unit):
    return [int(x) for x in (unit.path or "").strip("/").split("/") if x] or [unit.id]


def is_organ_department(unit):
    """A government's 部门 (has its own 机关代字) or its 办公室: an organ that may issue documents."""
    return unit.kind == UnitKind.DEPARTMENT and (bool(unit.doc_prefix) or unit.is_office)


def is_internal_office(unit):
    return unit.kind == UnitKind.DEPARTMENT and not is_organ_department(unit)


def _names(units):
    return "、".join(u.name for u in units)


def skipped_units(org, sender, units, doc_type=None):
    """Governments a 主送 to `units` would skip (越级), in tree order. With `doc_type`, only where
    the type goes along the line (上行/下行): a 函 between units skips nobody."""
    skipped = {}
    gs = org.government(sender)
    is_dept = org.sender_kind(sender) != "government"
    for r in units:
        rel = org.relation_of(sender, r)
        if rel not in SKIP_RELATIONS:
            continue
        if doc_type is not None and direction_for(doc_type, rel) not in (UP, DOWN):
            continue
        gr = org.government(r)
        if rel == "superior_superior":
            between = org.governments_between(gr, gs) + ([gs] if is_dept else [])
        else:
            between = org.governments_between(gs, gr)
        for u in between:
            skipped[u.id] = u
    return sorted(skipped.values(), key=lambda u: u.path)


def _covers(org, unit, listed_ids):
    """`unit` is listed itself, or through its 办公室."""
    if unit.id in listed_ids:
        return True
    return any(org.by_id.get(i) is not None and org.by_id[i].is_office and org.by_id[i].parent_id == unit.id
               for i in listed_ids)


def _refusal(rule, sender, recipient, relation, doc_type):
    names = {"s": sender.name, "r": recipient.name, "t": doc_type, "rel": RELATIONS[relation]}
    if rule == "no_self":
        return RuleViolation(rule, _("收文单位中不能有发文机关“%(name)s”本身。") % {"name": sender.name})
    if rule == "upward_to_superior":
        return RuleViolation(rule, _("“%(r)s”不是“%(s)s”的上级机关（是%(rel)s），%(t)s只报送直接上级机关。") % names)
    if rule == "dept_no_directive":
        return RuleViolation(rule, _("“%(s)s”不能向下级政府“%(r)s”发%(t)s；可改用函，或以政府办公室名义发文。") % names)
    return RuleViolation(rule, _("“%(r)s”是“%(s)s”的%(rel)s，不在其管辖范围内，%(t)s不能主送它；可改用函。") % names)


def check_routing(*, sender, doc_type, main, cc=(), co_issuers=(), title="", body_text="", org=None):
    """Every routing rule for a document `sender` sends to `main` (主送) and `cc` (抄送)."""
    main, cc, co_issuers = list(main), list(cc), list(co_issuers)
    org = org or Org([sender, *main, *cc, *co_issuers])
    listed = {u.id for u in main} | {u.id for u in cc}
    everyone = main + cc

    for u in everyone:
        if u.id == sender.id:
            raise _refusal("no_self", sender, u, "self", doc_type)

    # Internal offices (内设机构 without a 机关代字) stay inside their unit.
    if is_internal_office(sender):
        gs = org.government(sender)
        outside = [u for u in everyone if org.government(u).id != gs.id]
        if outside:
            raise RuleViolation("internal_no_outside", _("“%(s)s”是内设机构，不能向本单位以外的“%(r)s”行文，请以本单位或办公室名义发文。")
                                % {"s": sender.name, "r": _names(outside[:3])})

    # Joint documents only between units of one level.
    for u in co_issuers:
        if u.id == sender.id:
            raise RuleViolation("joint_same_level", _("联合发文机关不能与主办机关相同。"))
        if org.level(u) != org.level(sender):
            raise RuleViolation("joint_same_level", _("“%(u)s”与“%(s)s”不是同级机关，不能联合行文。")
                                % {"u": u.name, "s": sender.name})

    relations = [(u, org.relation_of(sender, u)) for u in main]
    upward = direction_of(doc_type) == UP or any(direction_for(doc_type, rel) == UP for _u, rel in relations)
    if upward and len(main) != 1:
        raise RuleViolation("upward_one_main", _("%(t)s只能主送一个上级机关，现在主送了%(n)d个；其他机关可以抄送。")
                            % {"t": doc_type, "n": len(main)})

    # The table: who may be the 主送 of this 文种 from this sender.
    kind = org.sender_kind(sender)
    for u, rel in relations:
        ok, rule = allowed(doc_type, kind, rel)
        if not ok:
            raise _refusal(rule, sender, u, rel, doc_type)

    if upward:
        down = [u for u in cc if org.relation(sender, u) == "down"]
        if down:
            raise RuleViolation("upward_no_cc_down", _("%(t)s不能抄送下级机关“%(r)s”。") % {"t": doc_type, "r": _names(down[:3])})
        if doc_type == "报告":
            text = f"{title}\n{body_text}"
            for phrase in ("请批示", "请审批", "请批准", "请予批准", "妥否", "请予审批"):
                if phrase in text:
                    raise RuleViolation("report_no_request", _("报告中出现了请示事项（“%(p)s”）；请示事项请另行请示。") % {"p": phrase})

    # 越级 (only where the table allows it): every skipped government must get a 抄送.
    missing = [u for u in skipped_units(org, sender, main, doc_type) if not _covers(org, u, listed)]
    if missing:
        raise RuleViolation("no_skip", _("越过了“%(u)s”；确需越级行文的，须同时抄送被越过的机关。") % {"u": _names(missing[:5])})
    return org


def check_signers(doc_type, signer_names):
    if doc_type in UPWARD and not signer_names:
        raise RuleViolation("upward_signer", _("%(t)s须经领导签发后才能登记。") % {"t": doc_type})


def check_approval(doc_type, answered_type):
    """A 批复 answers a 请示 (and only a 请示)."""
    if doc_type == "批复" and answered_type != "请示":
        raise RuleViolation("approval_answers_request", _("批复只能答复请示，所答复的是%(t)s。") % {"t": answered_type or _("（无）")})


def check_forward_view(original_type, relation_to_original, view):
    """Forwarding a subordinate's 请示 or 报告 upward: the forwarding unit adds its own view."""
    if original_type in UPWARD and relation_to_original == "up" and not (view or "").strip():
        raise RuleViolation("forward_add_view", _("请填写本级意见后再转报。"))


# --- recipient scopes ---------------------------------------------------------------------
SCOPE_KINDS = {
    "county": (UnitKind.COUNTY,),
    "town": (UnitKind.TOWN,),
    "village": (UnitKind.VILLAGE,),
    "all": (UnitKind.COUNTY, UnitKind.TOWN, UnitKind.VILLAGE),
    "departments": (UnitKind.DEPARTMENT,),
}
SCOPE_LABELS = {
    "county": gettext_lazy("各县（市、区）"),
    "town": gettext_lazy("各镇（街道）"),
    "village": gettext_lazy("各村（社区）"),
    "all": gettext_lazy("所属各级单位"),
    "departments": gettext_lazy("各部门"),
}


def parse_scope(item):
    """A recipient spec: a unit id (int or "123") or "under:<id>:<kind>". Returns (unit_id, kind|None)."""
    if isinstance(item, int):
        return item, None
    text = str(item).strip()
    if text.isdigit():
        return int(text), None
    parts = text.split(":")
    if len(parts) == 3 and parts[0] == "under" and parts[1].isdigit() and parts[2] in SCOPE_KINDS:
        return int(parts[1]), parts[2]
    raise ActionError(_("无法识别的收文单位：%(x)s") % {"x": text[:50]})


def expand_scopes(items):
    """Resolve specs to active units (in tree order, no duplicates) and a 主送 label for scopes.

    Unknown or dissolved units are refused with their ids.
    """
    parsed = [parse_scope(i) for i in items]
    ids = {uid for uid, _kind in parsed}
    anchors = {u.id: u for u in Unit.objects.filter(id__in=ids, dissolved_at__isnull=True)}
    unknown = sorted(ids - set(anchors))
    if unknown:
        raise ActionError(_("收文单位不存在或已撤销：%(ids)s") % {"ids": "、".join(str(i) for i in unknown[:10])})
    result = {}
    labels = []
    for uid, kind in parsed:
        anchor = anchors[uid]
        if kind is None:
            result[anchor.id] = anchor
            continue
        qs = Unit.objects.filter(path__startswith=anchor.path, dissolved_at__isnull=True,
                                 kind__in=SCOPE_KINDS[kind]).exclude(id=anchor.id)
        if kind == "departments":
            qs = qs.filter(parent_id=anchor.id)
        found = list(qs)
        if not found:
            raise ActionError(_("“%(u)s”下没有%(k)s。") % {"u": anchor.name, "k": SCOPE_LABELS[kind]})
        for u in found:
            result[u.id] = u
        labels.append(f"{anchor.short_name or anchor.name}{SCOPE_LABELS[kind]}")
    units = sorted(result.values(), key=lambda u: (u.path, u.id))
    return units, "，".join(labels)
