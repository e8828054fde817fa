"""Seeding the organisation: a small tree for tests and a Xianyang-sized demo.

Both are idempotent: units are matched by administrative code (or by name under their
parent), people by username, so running a seed twice duplicates nothing.
"""
import random
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction

from office import audit
from office.models import Person, Post, Unit, UnitKind

DEMO_PASSWORD = "Demo-2026!"

COUNTIES = [  # organisation.md: the real county-level units of Xianyang
    ("610402", "秦都区", "district"), ("610403", "杨陵区", "district"), ("610404", "渭城区", "district"),
    ("610422", "三原县", "county"), ("610423", "泾阳县", "county"), ("610424", "乾县", "county"),
    ("610425", "礼泉县", "county"), ("610426", "永寿县", "county"), ("610428", "长武县", "county"),
    ("610429", "旬邑县", "county"), ("610430", "淳化县", "county"), ("610431", "武功县", "county"),
    ("610481", "兴平市", "city"), ("610482", "彬州市", "city"),
]
CITY_DEPARTMENTS = [
    "市政府办公室", "市发展和改革委员会", "市教育局", "市科学技术局", "市工业和信息化局", "市公安局", "市民政局",
    "市司法局", "市财政局", "市人力资源和社会保障局", "市自然资源局", "市生态环境局", "市住房和城乡建设局",
    "市交通运输局", "市水利局", "市农业农村局", "市商务局", "市文化和旅游局", "市卫生健康委员会",
    "市退役军人事务局", "市应急管理局", "市审计局", "市市场监督管理局", "市统计局", "市医疗保障局",
    "市林业局", "市乡村振兴局", "市行政审批服务局", "市信访局", "市数据局",
]
COUNTY_DEPARTMENTS = [
    "政府办公室", "发展和改革局", "教育局", "公安局", "民政局", "财政局", "人力资源和社会保障局", "自然资源局",
    "住房和城乡建设局", "交通运输局", "水利局", "农业农村局", "卫生健康局", "应急管理局", "市场监督管理局",
]
TOWN_WORDS = list("东西南北中新城关桥河渠原坡塬庄堡寨店铺湾沟泉川阳安宁康乐和平兴永定丰泰华明光红花山峪")
VILLAGE_WORDS = list("东西南北前后上下大小新老王李张刘陈杨赵黄周吴孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力永健世广志义兴良海山仁波宁贵福生龙元全")


@dataclass
class SeedReport:
    units_created: int = 0
    people_created: int = 0
    posts_created: int = 0
    logins: list = field(default_factory=list)


def _gov(name, kind, code, short, prefix, fonds, parent=None):
    return {"name": name, "kind": kind, "code": code, "short_name": short, "doc_prefix": prefix,
            "fonds_no": fonds, "parent": parent, "is_office": False}


class Builder:
    """Creates units level by level with bulk inserts, skipping what already exists."""

    def __init__(self):
        self.report = SeedReport()
        self.by_code = {u.code: u for u in Unit.objects.exclude(code__isnull=True)}
        self.by_parent_name = {(u.parent_id, u.name): u for u in Unit.objects.all()}

    def units(self, specs):
        """specs: dicts with parent (Unit or None) and fields; returns Units in the same order."""
        out, new = [], []
        for spec in specs:
            parent = spec.pop("parent")
            existing = (self.by_code.get(spec.get("code")) if spec.get("code") else None) or \
                self.by_parent_name.get((parent.id if parent else None, spec["name"]))
            if existing is not None:
                out.append(existing)
                continue
            unit = Unit(parent=parent, **spec)
            unit.clean_shape() if len(specs) < 50 else None  # full check for small batches
            new.append(unit)
            out.append(unit)
        if new:
            Unit.objects.bulk_create(new, batch_size=1000)
            if any(u.pk is None for u in new):  # backends that return no ids
                lookup = {(u.parent_id, u.name): u.pk for u in Unit.objects.filter(name__in=[n.name for n in new])}
                for u in new:
                    u.pk = u.id = lookup[(u.parent_id, u.name)]
            for u in new:
                u.depth = 0 if u.parent is None else u.parent.depth + 1
                u.path = f"{u.parent.path if u.parent else '/'}{u.id}/"
            Unit.objects.bulk_update(new, ["path", "depth"], batch_size=1000)
            for u in new:
                if u.code:
                    self.by_code[u.code] = u
                self.by_parent_name[(u.parent_id, u.name)] = u
            self.report.units_created += len(new)
        return out

    def people(self, specs, password_hash):
        """specs: (username, display_name, title, unit, roles); one post each."""
        usernames = [s[0] for s in specs]
        existing = {p.username: p for p in Person.objects.filter(username__in=usernames)}
        new = [Person(username=u, display_name=n, title=t, password=password_hash, source="local")
               for (u, n, t, _unit, _roles) in specs if u not in existing]
        if new:
            Person.objects.bulk_create(new, batch_size=1000)
            existing.update({p.username: p for p in Person.objects.filter(username__in=[p.username for p in new])})
            self.report.people_created += len(new)
        have_posts = set(Post.objects.filter(person__username__in=usernames).values_list("person_id", "unit_id"))
        posts = []
        for username, _name, title, unit, roles in specs:
            person = existing[username]
            if (person.id, unit.id) in have_posts:
                continue
            posts.append(Post(person=person, unit=unit, title=title, is_leader="leader" in roles,
                              is_secretary="secretary" in roles, is_handler="handler" in roles,
                              is_archivist="archivist" in roles, is_admin="admin" in roles))
        if posts:
            Post.objects.bulk_create(posts, batch_size=1000)
            self.report.posts_created += len(posts)
        return existing


def _name(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


# ---------------------------------------------------------------------------------------------
def build_small():
    """The test organisation (see tests/conftest.py): a few units of each level, named personas."""
    b = Builder()
    pw = make_password(DEMO_PASSWORD)
    with transaction.atomic():
        (city,) = b.units([_gov("咸阳市人民政府", UnitKind.CITY, "610400000000", "咸阳市", "咸政", "Z001")])
        city_office, city_finance, city_edu = b.units([
            {"name": "咸阳市人民政府办公室", "kind": UnitKind.DEPARTMENT, "short_name": "市政府办", "doc_prefix": "咸政办",
             "fonds_no": "Z001", "is_office": True, "parent": city},
            {"name": "咸阳市财政局", "kind": UnitKind.DEPARTMENT, "short_name": "市财政局", "doc_prefix": "咸财",
             "fonds_no": "Z011", "parent": city},
            {"name": "咸阳市教育局", "kind": UnitKind.DEPARTMENT, "short_name": "市教育局", "doc_prefix": "咸教",
             "fonds_no": "Z012", "parent": city},
        ])
        qindu, qian = b.units([
            _gov("秦都区人民政府", UnitKind.COUNTY, "610402000000", "秦都区", "咸秦政", "Z101", city),
            _gov("乾县人民政府", UnitKind.COUNTY, "610424000000", "乾县", "乾政", "Z106", city),
        ])
        qindu_office, qindu_finance = b.units([
            {"name": "秦都区人民政府办公室", "kind": UnitKind.DEPARTMENT, "short_name": "区政府办", "doc_prefix": "咸秦政办",
             "fonds_no": "Z101", "is_office": True, "parent": qindu},
            {"name": "秦都区财政局", "kind": UnitKind.DEPARTMENT, "short_name": "区财政局", "doc_prefix": "咸秦财",
             "fonds_no": "Z111", "parent": qindu},
        ])
        renmin, weiyang, chengguan, xuelu = b.units([
            _gov("人民路街道办事处", UnitKind.TOWN, "610402001000", "人民路街道", "人街办", "Z1011", qindu),
            _gov("渭阳西路街道办事处", UnitKind.TOWN, "610402002000", "渭阳西路街道", "渭街办", "Z1012", qindu),
            _gov("城关街道办事处", UnitKind.TOWN, "610424001000", "城关街道", "乾城办", "Z1061", qian),
            _gov("薛录镇人民政府", UnitKind.TOWN, "610424002000", "薛录镇", "薛政", "Z1062", qian),
        ])
        villages = b.units([
            _gov("人民路社区居民委员会", UnitKind.VILLAGE, "610402001001", "人民路社区", "人民社", "", renmin),
            _gov("北街村民委员会", UnitKind.VILLAGE, "610402001002", "北街村", "北街村", "", renmin),
            _gov("西兰路社区居民委员会", UnitKind.VILLAGE, "610402002001", "西兰路社区", "西兰社", "", weiyang),
            _gov("陈杨寨村民委员会", UnitKind.VILLAGE, "610402002002", "陈杨寨村", "陈杨村", "", weiyang),
            _gov("东街社区居民委员会", UnitKind.VILLAGE, "610424001001", "东街社区", "东街社", "", chengguan),
            _gov("西街村民委员会", UnitKind.VILLAGE, "610424001002", "西街村", "西街村", "", chengguan),
            _gov("薛录村民委员会", UnitKind.VILLAGE, "610424002001", "薛录村", "薛录村", "", xuelu),
        ])
        people = [
            ("city_leader", "张市长", "市长", city, ("leader",)),
            ("city_deputy", "李副市长", "副市长", city, ("leader",)),
            ("city_secretary", "王秘书", "秘书科科长", city, ("secretary",)),
            ("city_office_secretary", "赵文书", "文书", city_office, ("secretary",)),
            ("city_finance_secretary", "钱文书", "文书", city_finance, ("secretary",)),
            ("archivist", "孙档案", "档案员", city, ("archivist",)),
            ("admin", "系统管理员", "管理员", city, ("admin",)),
            ("county_leader", "周区长", "区长", qindu, ("leader",)),
            ("county_secretary", "吴秘书", "秘书", qindu, ("secretary",)),
            ("county_handler", "郑科员", "科员", qindu_finance, ("handler",)),
            ("town_leader", "冯主任", "街道办主任", renmin, ("leader",)),
            ("town_secretary", "陈文书", "文书", renmin, ("secretary",)),
            ("village_cadre", "褚书记", "社区书记", villages[0], ("secretary", "handler")),
            ("village_cadre2", "卫文书", "村文书", villages[1], ("secretary", "handler")),
            ("outsider", "蒋秘书", "秘书", qian, ("secretary",)),
        ]
        persons = b.people(people, pw)
        Person.objects.filter(username="admin").update(is_superuser=True)
        if b.report.units_created or b.report.people_created:
            audit.record("org.seed", data={"size": "small", "units": b.report.units_created,
                                           "people": b.report.people_created})
    units = {u.short_name: u for u in Unit.objects.all()}
    return units, {u: persons[u] for u, *_ in people}


# ---------------------------------------------------------------------------------------------
def build_demo(progress=None, size="full", seed=2026):
    """Xianyang-sized: 1 city, 14 counties, ~150 towns, ~3,000 villages, departments, people."""
    rng = random.Random(seed)
    b = Builder()
    pw = make_password(DEMO_PASSWORD)
    counties_spec = COUNTIES if size == "full" else COUNTIES[:2]
    towns_per_county = (lambda i: 10 + (i % 3)) if size == "full" else (lambda i: 2)
    villages_per_town = (lambda: rng.randint(15, 25)) if size == "full" else (lambda: 3)
    city_depts = CITY_DEPARTMENTS if size == "full" else CITY_DEPARTMENTS[:4]
    county_depts = COUNTY_DEPARTMENTS if size == "full" else COUNTY_DEPARTMENTS[:3]
    steps = 6
    tick = (lambda n: progress(n, steps)) if progress else (lambda n: None)
    with transaction.atomic():
        (city,) = b.units([_gov("咸阳市人民政府", UnitKind.CITY, "610400000000", "咸阳市", "咸政", "Z001")])
        b.units([{"name": "咸阳" + d, "kind": UnitKind.DEPARTMENT, "short_name": d, "fonds_no": f"Z0{i + 10:02d}",
                  "doc_prefix": "咸" + d[1:3], "is_office": d == "市政府办公室", "parent": city}
                 for i, d in enumerate(city_depts)])
        tick(1)
        counties = b.units([
            _gov(f"{name}人民政府", UnitKind.COUNTY, f"{code}000000", name, f"{name[0]}政", f"Z{101 + i}", city)
            for i, (code, name, _k) in enumerate(counties_spec)])
        dept_specs = []
        for county in counties:
            dept_specs += [{"name": f"{county.short_name}{d}", "kind": UnitKind.DEPARTMENT, "short_name": d,
                            "doc_prefix": f"{county.short_name[0]}{d[:1]}", "fonds_no": "",
                            "is_office": d == "政府办公室", "parent": county} for d in county_depts]
        b.units(dept_specs)
        tick(2)
        town_specs = []
        for ci, county in enumerate(counties):
            used = set()
            for t in range(towns_per_county(ci)):
                while True:
                    word = rng.choice(TOWN_WORDS) + rng.choice(TOWN_WORDS)
                    if word not in used and word[0] != word[1]:
                        used.add(word)
                        break
                street = t % 4 == 0
                name = f"{word}街道办事处" if street else f"{word}镇人民政府"
                town_specs.append(_gov(name, UnitKind.TOWN, f"{county.code[:6]}{t + 1:03d}000",
                                       f"{word}街道" if street else f"{word}镇", f"{county.short_name[0]}{word}",
                                       "", county))
        towns = b.units(town_specs)
        tick(3)
        village_specs = []
        for town in towns:
            used = set()
            for v in range(villages_per_town()):
                while True:
                    word = rng.choice(VILLAGE_WORDS) + rng.choice(VILLAGE_WORDS)
                    if word not in used and word[0] != word[1]:
                        used.add(word)
                        break
                community = v % 6 == 0
                village_specs.append(_gov(f"{word}社区居民委员会" if community else f"{word}村民委员会",
                                          UnitKind.VILLAGE, f"{town.code[:9]}{v + 1:03d}",
                                          f"{word}社区" if community else f"{word}村", "", "", town))
        villages = b.units(village_specs)
        tick(4)
        specs = [
            ("city_leader", "张市长", "市长", city, ("leader",)),
            ("city_deputy", "李副市长", "副市长", city, ("leader",)),
            ("city_secretary", "王秘书", "秘书科科长", city, ("secretary",)),
            ("archivist", "孙档案", "档案员", city, ("archivist",)),
            ("admin", "系统管理员", "管理员", city, ("admin",)),
        ]
        for county in counties:
            c = county.code[:6]
            specs += [(f"c{c}_leader", _name(rng), "县(区)长", county, ("leader",)),
                      (f"c{c}_secretary", _name(rng), "秘书", county, ("secretary",)),
                      (f"c{c}_handler", _name(rng), "科员", county, ("handler",))]
        for town in towns:
            t = town.code[:9]
            specs += [(f"t{t}_leader", _name(rng), "镇长(主任)", town, ("leader",)),
                      (f"t{t}_secretary", _name(rng), "文书", town, ("secretary", "archivist"))]
        for village in villages:
            specs.append((f"v{village.code}", _name(rng), "村(社区)文书", village, ("secretary", "handler")))
        # Familiar names for the first county, town and village, so the demo logins are memorable.
        first_town = towns[0]
        first_village = next(v for v in villages if v.parent_id == first_town.id)
        specs += [("county_secretary", "吴秘书", "秘书", counties[0], ("secretary",)),
                  ("county_leader", "周区长", "区长", counties[0], ("leader",)),
                  ("town_secretary", "陈文书", "文书", first_town, ("secretary",)),
                  ("village_cadre", "褚书记", "村(社区)书记", first_village, ("secretary", "handler"))]
        tick(5)
        b.people(specs, pw)
        Person.objects.filter(username="admin").update(is_superuser=True)
        tick(6)
        if b.report.units_created or b.report.people_created:
            audit.record("org.seed", data={"size": size, "units": b.report.units_created,
                                           "people": b.report.people_created})
    b.report.logins = [
        ("admin", "系统管理员", city.name), ("city_leader", "市长", city.name),
        ("city_secretary", "市政府秘书", city.name), ("county_leader", "区长", counties[0].name),
        ("county_secretary", "区政府秘书", counties[0].name), ("town_secretary", "街道/镇文书", first_town.name),
        ("village_cadre", "村(社区)书记", first_village.name),
    ]
    return b.report
