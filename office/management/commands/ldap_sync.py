"""`manage.py ldap_sync`: import the whole directory into the organisation.

  ou tree → units (matched by administrative code, then by name under the parent unit),
  person entries → people, their units → posts, their groups → roles.

Nothing is ever deleted: a unit that left the directory is dissolved (撤销), a person who left or is
disabled is deactivated and their directory posts end. A second run over an unchanged directory
writes nothing (only the sync-log row). `--dry-run` runs the same code inside a transaction that is
rolled back, so its summary is exactly what a real run would do.
"""
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import audit
from office import ldap as dirs
from office.errors import ActionError

KIND_BY_CODE = ("city", "county", "town", "village")


def kind_for_code(code):
    code = dirs.normal_code(code)
    if code is None:
        return None
    if code[4:] == "00000000":
        return "city"
    if code[6:] == "000000":
        return "county"
    if code[9:] == "000":
        return "town"
    return "village"


class Progress:
    """Progress bars on stderr (office/progress.py), one per stage; silent when not wanted."""

    def __init__(self, stream, enabled):
        self.stream, self.enabled = stream, enabled
        self.bar = None
        self.label = None

    def __call__(self, label, done, total):
        if not self.enabled:
            return
        from office.progress import ProgressBar

        if label != self.label:
            self.label = label
            self.bar = ProgressBar(total, label, stream=self.stream)
        if done >= total:
            self.bar.finish()
            self.label = None
        else:
            self.bar.update(done)


class Batches:
    """One transaction per `size` items instead of one per change (a first import writes ~25,000 rows).

    Each change still runs in its own savepoint (the do_* actions), so a refused change rolls back alone.
    """

    def __init__(self, size=200):
        self.size, self.count, self.atomic = size, 0, None

    def tick(self):
        if self.atomic is None:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
        self.count += 1
        if self.count % self.size == 0:
            self.close()

    def close(self, exc=None):
        if self.atomic is not None:
            atomic, self.atomic = self.atomic, None
            if exc is None:
                atomic.__exit__(None, None, None)
            else:
                atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(exc)
        return False


class Stats(dict):
    def bump(self, group, key, n=1):
        if n:
            self.setdefault(group, {}).setdefault(key, 0)
            self[group][key] += n


class Syncer:
    def __init__(self, cfg, *, progress):
        self.cfg = cfg
        self.progress = progress
        self.stats = Stats()
        self.conflicts = []
        self.unit_by_ou = {}      # normalised ou DN → Unit
        self.managed_units = set()
        self.seen_people = set()  # ids of people the directory still lists
        self.created_units = set()  # ids of the units this and earlier runs created (only those may be dissolved)
        self.changes = []         # what was (or, in a dry run, would be) done, by name

    def conflict(self, dn, reason, **data):
        self.conflicts.append({"dn": dn, "reason": reason, **data})

    def change(self, op, kind, name, **data):
        if len(self.changes) < 5000:
            self.changes.append({"op": op, "kind": kind, "name": name, **data})

    # --- reading the directory ------------------------------------------------------------------
    def read(self):
        cfg = self.cfg
        conn, _bound = dirs.connect(cfg)
        try:
            ou_attrs = [cfg.unit_code_attr] if cfg.unit_code_attr else ["1.1"]
            self.ous = list(dirs.paged_search(conn, cfg.unit_base, "(objectClass=organizationalUnit)", ou_attrs))
            people_filter = cfg.user_filter.replace("{username}", "*")
            self.people = list(dirs.paged_search(conn, cfg.user_base, people_filter, cfg.user_attributes()))
            self.members = {}  # normalised member DN → [group DN]
            if cfg.group_base:
                groups = dirs.paged_search(conn, cfg.group_base,
                                           "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
                                           ["member", "uniqueMember"])
                for group in groups:
                    for member in group.all("member") + group.all("uniqueMember"):
                        self.members.setdefault(dirs.norm_dn(member), []).append(group.dn)
                if cfg.nested_groups != "off":
                    self.members = dirs.nest_memberships(self.members)
        finally:
            conn.unbind()

    # --- units ---------------------------------------------------------------------------------
    def sync_units(self, previous_ids):
        from office.actions import do_create_unit, do_dissolve_unit, do_move_unit
        from office.models import Unit

        units = {u.id: u for u in Unit.objects.all()}
        by_code = {}
        for unit in units.values():
            if unit.code:
                by_code[dirs.normal_code(unit.code)] = unit
        children = {}
        for unit in units.values():
            for name in {unit.name, unit.short_name} - {""}:
                children.setdefault((unit.parent_id, name), []).append(unit)

        def named(parent_id, name):
            found = children.get((parent_id, name)) or []
            return sorted(found, key=lambda u: (u.dissolved_at is not None, u.id))[0] if found else None

        base_depth = len(dirs.split_dn(self.cfg.unit_base)) if self.cfg.unit_base else 0
        ous = sorted(self.ous, key=lambda e: len(dirs.split_dn(e.dn)))
        seen_codes = {}
        total = len(ous)
        with Batches() as batch:
            self._sync_units(ous, total, batch, units, by_code, children, named, base_depth, seen_codes,
                             do_create_unit, do_move_unit)

        # Only a unit the sync itself created may be dissolved by it: a seeded unit the directory merely
        # matched (or stops matching after LDAP_UNIT_BASE changes) is never dissolved by a sync.
        gone = [units[i] for i in (previous_ids & self.created_units) - self.managed_units
                if i in units and units[i].dissolved_at is None and not units[i].is_local]
        with Batches() as batch:
            for unit in sorted(gone, key=lambda u: -u.depth):
                batch.tick()
                try:
                    do_dissolve_unit(actor=None, unit=unit)
                    self.stats.bump("units", "deactivated")
                    self.change("dissolve", "unit", unit.name, unit=unit.id)
                except ActionError as exc:
                    self.conflict(unit.name, "cannot-dissolve", unit=unit.id, message=exc.message)

    def _sync_units(self, ous, total, batch, units, by_code, children, named, base_depth, seen_codes,
                    do_create_unit, do_move_unit):
        for index, entry in enumerate(ous, 1):
            batch.tick()
            self.progress(_("单位"), index, total)
            parts = dirs.split_dn(entry.dn)
            if not parts or parts[0][0].lower() != "ou":
                continue
            name = parts[0][1].strip()[:100]
            raw_code = entry.first(self.cfg.unit_code_attr) if self.cfg.unit_code_attr else ""
            code = dirs.normal_code(raw_code)
            if raw_code and code is None:
                self.conflict(entry.dn, "bad-code", code=raw_code)
            parent_key = dirs.norm_dn(dirs.parent_dn(entry.dn))
            parent = self.unit_by_ou.get(parent_key)
            at_top = len(parts) - base_depth <= 1 or parent_key not in self._ou_keys
            if code and code in seen_codes:
                self.conflict(entry.dn, "duplicate-code", code=code, other=seen_codes[code])
                code = None
            if code:
                seen_codes[code] = entry.dn
            unit = by_code.get(code) if code else None
            if unit is None:
                if parent is not None:
                    unit = named(parent.id, name)
                elif at_top:
                    unit = named(None, name)
            if unit is None:
                if parent is None and not code:
                    continue  # ou=people, ou=groups …: not a unit
                kind = kind_for_code(code) if code else "department"
                if parent is None and kind != "city":
                    self.conflict(entry.dn, "no-parent-unit")
                    continue
                try:
                    unit = do_create_unit(parent=parent, kind=kind, name=name, code=raw_code.strip() if code else None,
                                          is_office=name.endswith(("办公室", "党政办")))
                except ActionError as exc:
                    self.conflict(entry.dn, "cannot-create", message=exc.message)
                    continue
                units[unit.id] = unit
                self.created_units.add(unit.id)
                self.change("create", "unit", name, parent=parent.name if parent is not None else "")
                if code:
                    by_code[code] = unit
                children.setdefault((unit.parent_id, unit.name), []).append(unit)
                self.stats.bump("units", "created")
            elif unit.is_local:
                self.unit_by_ou[dirs.norm_dn(entry.dn)] = unit  # local units are mapped, never changed
                continue
            else:
                changed = self.update_unit(unit, entry, name=name, code=code, raw_code=raw_code, parent=parent,
                                           by_code=by_code, do_move_unit=do_move_unit)
                if changed:
                    self.stats.bump("units", "updated")
                    if unit.dissolved_at is None:
                        self.change("update", "unit", unit.name)
            self.unit_by_ou[dirs.norm_dn(entry.dn)] = unit
            self.managed_units.add(unit.id)

    def update_unit(self, unit, entry, *, name, code, raw_code, parent, by_code, do_move_unit):
        from office.models import Unit

        changes = {}
        if name not in (unit.name, unit.short_name):
            if Unit.objects.filter(parent_id=unit.parent_id, name=name).exclude(id=unit.id).exists():
                self.conflict(entry.dn, "name-taken", unit=unit.id, name=name)
            else:
                changes["name"] = (unit.name, name)
        if code and not unit.code:
            changes["code"] = (unit.code, raw_code.strip())
        elif code and dirs.normal_code(unit.code) != code:
            self.conflict(entry.dn, "code-differs", unit=unit.id, unit_code=unit.code, code=code)
        if unit.dissolved_at is not None:
            changes["dissolved_at"] = (unit.dissolved_at, None)
        moved = parent is not None and unit.parent_id != parent.id
        if not changes and not moved:
            return False
        if changes:
            with transaction.atomic():
                locked = Unit.objects.select_for_update().get(id=unit.id)
                for key, (_old, new) in changes.items():
                    setattr(locked, key, new)
                locked.save(update_fields=list(changes))
                audit.record("unit.update", obj=locked, data={
                    "source": "ldap", "dn": entry.dn,
                    "changes": {k: [str(o) if o is not None else None, n] for k, (o, n) in changes.items()}})
            for key, (_old, new) in changes.items():
                setattr(unit, key, new)
        if moved:
            try:
                moved_unit = do_move_unit(actor=None, unit=unit, new_parent=parent)
                self.change("move", "unit", unit.name, parent=parent.name)
                unit.parent_id, unit.path, unit.depth = parent.id, moved_unit.path, moved_unit.depth
            except ActionError as exc:
                self.conflict(entry.dn, "cannot-move", unit=unit.id, message=exc.message)
        return True

    # --- people --------------------------------------------------------------------------------
    def sync_people(self):
        from office.models import Person, Post

        cfg = self.cfg
        by_username = {}
        for entry in self.people:
            fields = dirs.person_fields(cfg, entry)
            by_username.setdefault(fields["username"], []).append((entry, fields))
        persons = {p.username: p for p in Person.objects.all()}
        persons_by_dn = {dirs.norm_dn(p.ldap_dn): p for p in persons.values() if p.source == "ldap" and p.ldap_dn}
        posts = {}
        for post in Post.objects.all():
            posts.setdefault(post.person_id, {})[post.unit_id] = post
        units_by_code = {}
        from office.models import Unit
        for unit in Unit.objects.exclude(code__isnull=True).exclude(code=""):
            units_by_code[dirs.normal_code(unit.code)] = unit

        def unit_for_ou(dn):
            return self.unit_by_ou.get(dirs.norm_dn(dn))

        def unit_for_code(code):
            return units_by_code.get(dirs.normal_code(code))

        total = len(by_username)
        with Batches() as batch:
            self._sync_people(by_username, total, batch, persons, persons_by_dn, posts, unit_for_ou,
                              unit_for_code)
        gone = [p for p in persons.values() if p.source == "ldap" and p.is_active and p.id not in self.seen_people]
        with Batches() as batch:
            for person in gone:
                batch.tick()
                _person, stats = dirs.do_apply_person(
                    {k: getattr(person, k) for k in dirs.DEFAULT_ATTR_MAP}, person.ldap_dn, [], active=False,
                    reason="sync-gone", person_id=person.id)
                self.stats.bump("people", "deactivated")
                self.change("deactivate", "person", person.display_name or person.username, username=person.username)
                self.stats.bump("posts", "deactivated", stats["posts_ended"])

    def _sync_people(self, by_username, total, batch, persons, persons_by_dn, posts, unit_for_ou, unit_for_code):
        cfg = self.cfg
        for index, (username, found) in enumerate(sorted(by_username.items()), 1):
            batch.tick()
            self.progress(_("人员"), index, total)
            if username in persons:
                self.seen_people.add(persons[username].id)
            if len(found) > 1:
                self.conflict(found[0][0].dn, "ambiguous-username", username=username,
                              dns=[e.dn for e, _f in found])
                continue
            entry, fields = found[0]
            person = persons.get(username) or persons_by_dn.get(dirs.norm_dn(entry.dn))
            if person is not None:
                self.seen_people.add(person.id)
            if person is not None and person.source != "ldap":
                self.conflict(entry.dn, "local-account-exists", username=username)
                continue
            direct = entry.all(cfg.memberof_attr) + self.members.get(dirs.norm_dn(entry.dn), [])
            if cfg.nested_groups != "off":  # the groups that hold the memberOf groups
                direct += [g for d in entry.all(cfg.memberof_attr) for g in self.members.get(dirs.norm_dn(d), [])]
            groups = list({dirs.norm_dn(g): g for g in direct}.values())
            active = not dirs.is_disabled(cfg, entry) and not cfg.refusal(groups)
            specs = dirs.build_post_specs(cfg, entry, groups, unit_for_ou, unit_for_code)
            if person is None and not active:
                continue  # a disabled entry nobody here has used: nothing to record
            if active:
                self.check_units_found(entry, fields, specs, unit_for_ou, unit_for_code)
            if person is not None and self.unchanged(person, fields, entry.dn, active, specs,
                                                     posts.get(person.id, {})):
                continue
            try:
                _person, stats = dirs.do_apply_person(fields, entry.dn, specs, active=active, reason="sync",
                                                      person_id=person.id if person is not None else None)
            except ActionError as exc:
                self.conflict(entry.dn, "cannot-apply", username=username, message=exc.message)
                continue
            if stats["person"]:
                self.stats.bump("people", stats["person"])
                if stats["person"] in ("created", "deactivated", "activated"):
                    op = {"created": "create", "deactivated": "deactivate", "activated": "activate"}[stats["person"]]
                    self.change(op, "person", fields["display_name"] or username, username=username)
            self.stats.bump("posts", "created", stats["posts_created"])
            self.stats.bump("posts", "updated", stats["posts_updated"])
            self.stats.bump("posts", "deactivated", stats["posts_ended"])

    def check_units_found(self, entry, fields, specs, unit_for_ou, unit_for_code):
        """A person whose unit codes match no unit, or who has no unit at all, is a conflict: they would
        sign in to a system where they hold no post."""
        codes = [c for c in entry.all(self.cfg.person_unit_attr) if c.strip()]
        unknown = [c for c in codes if unit_for_code(c) is None]
        if not specs:
            self.conflict(entry.dn, "no-unit", username=fields["username"], code=", ".join(codes))
        elif unknown:
            self.conflict(entry.dn, "unknown-unit-code", username=fields["username"], code=", ".join(unknown))

    @staticmethod
    def unchanged(person, fields, dn, active, specs, existing_posts):
        wanted = {**fields, "ldap_dn": dn[:500], "is_active": active, "source": "ldap"}
        if any(getattr(person, k) != v for k, v in wanted.items()):
            return False
        wanted_units = {s.unit.id for s in specs} if active else set()
        for spec in (specs if active else []):
            post = existing_posts.get(spec.unit.id)
            if post is None or not post.active or post.roles != spec.roles or post.title != spec.title:
                return False
        return not any(p.source == "ldap" and p.active and p.unit_id not in wanted_units
                       for p in existing_posts.values())

    # --- the run -------------------------------------------------------------------------------
    def run(self, previous_ids):
        self.read()
        self._ou_keys = {dirs.norm_dn(e.dn) for e in self.ous}
        if not self.ous:
            raise CommandError(_("目录中没有找到任何单位（ou），未做任何更改；请检查 LDAP_UNIT_BASE。"))
        if not self.people:
            raise CommandError(_("目录中没有找到任何人员，未做任何更改；请检查 LDAP_USER_BASE 和 LDAP_USER_FILTER。"))
        self.sync_units(previous_ids)
        self.sync_people()


def summary_line(stats, conflicts):
    """One sentence (translated whole, not glued from parts) with the counts of the run."""
    counts = {"conflicts": len(conflicts)}
    for group, key in (("units", "units"), ("people", "people"), ("posts", "posts")):
        g = stats.get(group, {})
        counts[f"{key}_created"] = g.get("created", 0)
        counts[f"{key}_updated"] = g.get("updated", 0) + g.get("activated", 0)
        counts[f"{key}_deactivated"] = g.get("deactivated", 0)
    return _("单位：新建 %(units_created)d，更新 %(units_updated)d，停用 %(units_deactivated)d；"
             "人员：新建 %(people_created)d，更新 %(people_updated)d，停用 %(people_deactivated)d；"
             "岗位：新建 %(posts_created)d，更新 %(posts_updated)d，停用 %(posts_deactivated)d；"
             "冲突 %(conflicts)d") % counts


class Command(BaseCommand):
    help = gettext_lazy("把 LDAP 目录导入为单位、人员、岗位和角色（见 office/ldap.py）。")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help=_("只显示将要做的更改，不做任何更改"))
        parser.add_argument("--no-progress", action="store_true", help=_("不显示进度条"))
        parser.add_argument("--by", default="", help=_("发起本次同步的人（记入同步日志）"))

    def handle(self, *args, **options):
        from office.models import DirectorySync

        cfg = dirs.get_config()
        if cfg is None:
            raise CommandError(_("未配置目录服务（LDAP_URL 为空），无法同步。"))
        dry_run = options["dry_run"]
        progress = Progress(sys.stderr, not options["no_progress"] and options["verbosity"] > 0)
        last = DirectorySync.objects.filter(status=DirectorySync.Status.OK, dry_run=False).first()
        previous_ids = set((last.summary or {}).get("unit_ids", [])) if last else set()
        created_before = set((last.summary or {}).get("created_unit_ids", [])) if last else set()
        log = None
        if not dry_run:
            log = DirectorySync.objects.create(started_by=options["by"][:150])
        syncer = Syncer(cfg, progress=progress)
        syncer.created_units |= created_before
        started = time.monotonic()
        try:
            if dry_run:
                with transaction.atomic():
                    syncer.run(previous_ids)
                    transaction.set_rollback(True)
            else:
                syncer.run(previous_ids)
        except (dirs.DirectoryUnavailable, dirs.DirectoryIncomplete, CommandError, ActionError) as exc:
            message = (dirs.down_message(exc.reason) if isinstance(exc, dirs.DirectoryUnavailable)
                       else getattr(exc, "message", None) or str(exc))
            if log is not None:
                log.status = DirectorySync.Status.FAILED
                log.error = f"{message} ({exc})" if isinstance(exc, dirs.DirectoryUnavailable) else message
                log.finished_at = timezone.now()
                log.summary = dict(syncer.stats)
                log.conflicts = syncer.conflicts[:1000]
                log.save()
            raise CommandError(message) from None
        changed = any(syncer.stats.get(g) for g in ("units", "people", "posts"))
        summary = {**syncer.stats, "seen": {"units": len(syncer.ous), "people": len(syncer.people)},
                   "seconds": round(time.monotonic() - started, 2), "changed": changed,
                   "unit_ids": sorted(syncer.managed_units),
                   "created_unit_ids": sorted(syncer.created_units & (syncer.managed_units | created_before)),
                   "changes": syncer.changes[:1000]}
        if dry_run:
            log = DirectorySync.objects.create(dry_run=True, started_by=options["by"][:150])
        log.status = DirectorySync.Status.OK
        log.finished_at = timezone.now()
        log.summary = summary
        log.conflicts = syncer.conflicts[:1000]
        log.save()
        if changed and not dry_run:
            audit.record("ldap.sync", obj=log, data={k: v for k, v in summary.items()
                                                     if k not in ("unit_ids", "created_unit_ids", "changes")}
                         | {"conflicts": len(syncer.conflicts)})
        prefix = _("（试运行，未做更改）") if dry_run else ""
        self.stdout.write(prefix + summary_line(syncer.stats, syncer.conflicts))
        if dry_run:
            for item in syncer.changes[:200]:
                self.stdout.write(dirs.change_line(item))
            if len(syncer.changes) > 200:
                self.stdout.write(_("……另有 %(n)d 项更改，见目录同步页面。") % {"n": len(syncer.changes) - 200})
        for item in syncer.conflicts[:50]:
            self.stdout.write(_("冲突：%(dn)s — %(reason)s")
                              % {"dn": item["dn"], "reason": dirs.CONFLICT_REASONS.get(item["reason"], item["reason"])})
        if len(syncer.conflicts) > 50:
            self.stdout.write(_("……另有 %(n)d 个冲突，见目录同步页面。") % {"n": len(syncer.conflicts) - 50})
