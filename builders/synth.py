"""Write a synthetic raw tree in the upstream formats, at any scale, deterministically.

For benchmarks and scale tests: the real corpus (257,609 rules, ~404k dilemmas, 17 models)
is not shipped. Rules are composed from templates (a context, a verb, nouns, a judgement,
的/地 phrases), so texts are realistic in length (8–30 characters); nouns are random
2–3 character strings so unrelated rules rarely share long runs by accident, and the
planted near-duplicates are the real ones. Values follow ``schemas/taxonomy.json``.

Every file the rules and dilemma builders read is written, with the quirks raw-formats
documents: the GBK master table, alias spellings (法制教育, 文化素养, 国家层面, Civility,
Friendship), raw ``标签：x\\n重写：y`` and ``层面：…`` replies with either colon and the
separators 、，,/, English seed rules, ``rule_set.csv`` with its swapped columns, options on
one line or several, and model replies such as ``选B`` or ``ERROR: …``.

``DIR/synth_truth.json`` holds the ground truth: the near-duplicate groups (texts and the
edit that made each copy), every planted bad row (file, line, field, reason) and the number
of data rows written per file, so a test can check that every raw row is accounted for.
Same seed and sizes → identical bytes.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from builders.stages.normalizers.text import dedup_key, has_cjk
from builders.taxonomy import load_taxonomy

CONTEXTS = [
    "在公共场合", "在工作中", "在学校里", "与朋友相处时", "面对困难时", "在网络上", "在家庭中", "遇到陌生人时",
    "参加集体活动时", "购物时", "乘坐公共交通时", "在社区里", "与同事合作时", "做生意时", "在医院里", "旅行时",
    "在考试中", "与邻居相处时", "开车时", "在图书馆里", "参加志愿服务时", "面对批评时", "处理纠纷时", "使用公共设施时",
    "在农村", "在城市里", "在比赛中", "教育孩子时", "照顾老人时", "发表意见时", "签订合同时", "使用网络时",
]
VERBS = [
    "尊重", "帮助", "爱护", "遵守", "欺骗", "保护", "浪费", "支持", "嘲笑", "关心", "破坏", "珍惜", "隐瞒", "维护",
    "损害", "理解", "歧视", "宽容", "鼓励", "拖欠", "偷拿", "模仿", "抄袭", "感谢", "举报", "传播", "节约", "夸大",
]
SYNONYMS = {"帮助": "帮忙", "爱护": "爱惜", "尊重": "敬重", "保护": "守护", "关心": "关怀", "支持": "支援",
            "欺骗": "蒙骗", "破坏": "毁坏", "珍惜": "爱惜", "理解": "体谅", "鼓励": "激励", "感谢": "感激",
            "是应该的": "是应当的", "是不道德的": "是缺德的", "是不可取的": "是要不得的", "是错误的": "是不对的",
            "值得提倡": "值得鼓励", "是违法的": "是犯法的", "是正确的做法": "是对的做法"}
"""Near-synonyms for the "swapped word" edit."""
ADVERBS = ["认真", "主动", "耐心", "诚实", "积极", "公平", "及时", "真诚", "细心", "虚心", "合理", "随意"]
OBJECTS = [
    "他人", "老人", "环境", "交通规则", "顾客", "公共财物", "粮食", "集体利益", "他人的隐私", "传统文化",
    "同事的劳动成果", "社会秩序", "少数民族的风俗", "知识产权", "野生动物", "弱势群体", "国家利益", "法律法规",
    "他人的意见", "孩子的兴趣", "水资源", "科研数据", "员工工资", "合作伙伴", "别人的错误", "谣言", "诚信经营",
    "公共卫生", "历史文物", "残疾人", "农民工的权益", "自己的承诺",
]
CHARACTERS = (
    "人民社会国家家庭朋友同事老师学生孩子父母邻居顾客员工医生病人司机乘客游客作者读者工人农民商人干部"
    "公园学校医院车站街道社区图书馆网络电话信息数据资料合同财物环境资源文物历史文化传统风俗节日语言"
    "时间金钱健康安全秩序规则法律道德责任义务权利机会承诺名誉隐私意见建议困难问题错误成果荣誉利益"
)
"""Nouns are drawn as random 3–4 character strings from this pool (or, one time in ten, from ``OBJECTS``):
short random nouns on a shared template would make thousands of unplanted near-duplicates."""
JUDGEMENTS = ["是应该的", "是不道德的", "是值得称赞的", "是不可取的", "是每个人的责任", "是违法的", "是文明的表现",
              "是不尊重人的行为", "值得提倡", "会伤害别人", "是正确的做法", "是错误的"]
PARTICLES = ["也", "都", "要", "就", "还"]
SEPARATORS = ["、", "、", "、", "，", ",", "/"]
COLONS = ["：", "：", ":"]
LABEL_REPLIES = ["标签：{label}\n重写：{rewrite}", "标签:{label}\n重写:{rewrite}", "标签： {label}\n重写：{rewrite}"]
BROKEN_LABEL_REPLIES = ["这条RoT不太好判断。", "ERROR: Request timed out", "", "标签：好\n重写："]
BROKEN_CLASSIFICATIONS = ["抱歉，我无法对该RoT进行分类。", "ERROR: rate limit exceeded", "分类：无"]
UNKNOWN_VALUES = ["勤俭节约", "孝顺父母", "艰苦奋斗"]
MODELS = ["DeepSeek-R1", "DeepSeek-V3", "Doubao-1.5-pro-32k", "Doubao-1.5-pro-256k", "Qwen2.5-7B-Instruct",
          "Qwen2.5-32B-Instruct", "Qwen2.5-72B-Instruct", "yi-34b-chat-0205", "GLM-4-32B-0414", "gpt-4o", "o1",
          "gpt-3.5-turbo-1106", "claude-3-7-sonnet-20250219", "gemini-1.5-pro", "aihubmix-Llama-3-1-70B-Instruct",
          "aihubmix-Llama-3-1-405B-Instruct", "codestral-latest"]
DISTRACTORS = ["你决定先去整理一下衣服。", "你看了看窗外的天气。", "你打算读一本小说。", "你去倒了一杯水。"]
GENERATED_FILES = ["cmos_all_p_dev_rot.csv", "flames_rot.csv", "zhihu_rot.csv"]
EDITS = ["de_di", "particle", "swap", "punctuation", "width"]
"""Near-duplicate edits. ``width`` (a full-width space) collides under ``dedup_key``: exact dedup folds it."""


@dataclass(frozen=True)
class SynthSizes:
    """How much to generate; the defaults are the real corpus's sizes."""

    rules: int = 257_609
    dilemmas: int = 404_000
    models: int = 17
    evaluated: int = 10_000
    """Dilemmas each model answered."""
    bad_share: float = 0.005
    """Planted bad rows, as a share of the rules (spread over the rule files)."""
    near_dup_share: float = 0.01
    """Near-duplicate groups, as a share of the rules."""
    human_share: float = 0.14
    """Rules labelled by humans (upstream: 36,000 of ~257k); most of the rest are LLM-labelled."""
    llm_share: float = 0.81
    generated_share: float = 0.25
    """Rules that also appear in ``rule_generation/6_final`` with a raw classification reply."""
    seed_share: float = 0.28
    """Rules that also appear as English seed rules (upstream: 71,411 of 257,609)."""


@dataclass
class _Rule:
    parts: list[str]
    english: str
    values: list[dict]

    @property
    def text(self) -> str:
        return "".join(self.parts)


SYNTH_LICENSE = "CVC SYNTHETIC TEST DATA\n\nMade by `cvc synth` to test the builder; no upstream text. Free to use.\n"
"""A synthetic tree's license statement (a build refuses a raw tree that states none)."""


class _Table:
    """Rows of one raw file, the planted bad ones marked, written with the line each row starts on."""

    def __init__(self, rel: str, header: list[str], encoding: str = "utf-8") -> None:
        self.rel, self.header, self.encoding = rel, header, encoding
        self.rows: list[list] = []
        self.bad: list[tuple[list, str, str, str]] = []

    def add(self, row: list) -> None:
        self.rows.append(row)

    def add_bad(self, row: list, field: str, reason: str, listed: str = "bad_rows") -> None:
        self.bad.append((row, field, reason, listed))

    def write(self, root: Path, rng: random.Random, truth: dict) -> None:
        total = len(self.rows) + len(self.bad)
        bad_at = set(rng.sample(range(total), len(self.bad))) if self.bad else set()
        good, bad = iter(self.rows), iter(self.bad)
        path = root / self.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        line = 2
        with open(path, "w", encoding=self.encoding, newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(self.header)
            for position in range(total):
                if position in bad_at:
                    row, field, why, listed = next(bad)
                    truth.setdefault(listed, []).append({"file": self.rel, "line": line, "field": field, "reason": why})
                else:
                    row = next(good)
                writer.writerow(row)
                line += 1 + sum(cell.count("\n") for cell in row if isinstance(cell, str))
        truth["files"][self.rel] = total


class _Generator:
    def __init__(self, sizes: SynthSizes, seed: int) -> None:
        self.sizes, self.rng = sizes, random.Random(seed)
        self.tax = load_taxonomy()
        self.derived = self.tax.derived_values
        self.zh_aliases = {d["zh"]: [a for a in d["aliases"] if has_cjk(a)] for d in self.derived}
        self.en_aliases = {d["en"]: [a for a in d["aliases"] if not has_cjk(a)] for d in self.derived}
        self.core_en = {c["zh"]: c for c in self.tax.data["core_values"]}
        self.dim_en = {d["zh"]: d for d in self.tax.data["dimensions"]}

    # -- text ------------------------------------------------------------------------------------------------
    def noun(self) -> str:
        rng = self.rng
        return rng.choice(OBJECTS) if rng.random() < 0.1 else "".join(rng.choices(CHARACTERS, k=rng.choice((3, 4))))

    def parts(self) -> list[str]:
        rng, draw = self.rng, self.rng.random()
        context, verb = rng.choice(CONTEXTS), rng.choice(VERBS)
        if draw < 0.4:
            return [context, verb, self.noun(), "的", self.noun(), rng.choice(JUDGEMENTS)]
        if draw < 0.65:
            return [context, rng.choice(ADVERBS), "地", verb, self.noun(), "的", self.noun(), rng.choice(JUDGEMENTS)]
        if draw < 0.85:
            return [context, "应该", verb, self.noun(), "并", rng.choice(VERBS), self.noun()]
        return [context, "不应该", verb, self.noun(), "的", self.noun()]

    def edit(self, parts: list[str], kind: str) -> list[str]:
        """A near-duplicate copy of a rule (one small edit)."""
        copy = list(parts)
        if kind == "de_di":
            for i, part in enumerate(copy):
                if part in ("的", "地"):
                    copy[i] = "地" if part == "的" else "的"
                    return copy
            kind = "particle"
        if kind == "particle":
            return [copy[0], self.rng.choice(PARTICLES), *copy[1:]]
        if kind == "swap":
            for i in (1, 2, 3, len(copy) - 1):
                if copy[i] in SYNONYMS:
                    copy[i] = SYNONYMS[copy[i]]
                    return copy
            return [copy[0], "一定", *copy[1:]]
        if kind == "punctuation":
            return [copy[0], "，", *copy[1:]]
        return [copy[0], "\u3000", *copy[1:]]  # width: a full-width space

    # -- values ----------------------------------------------------------------------------------------------
    def values(self) -> list[dict]:
        return self.rng.sample(self.derived, self.rng.choice((1, 1, 1, 2, 2, 3)))

    def tiers(self, values: list[dict]) -> tuple[list[str], list[str], list[str]]:
        dims = self.tax.sort("dimensions", {v["dimension"] for v in values})
        cores = self.tax.sort("core_values", {v["core_value"] for v in values})
        return dims, cores, [v["zh"] for v in values]

    def spelled(self, values: list[dict], alias_rate: float) -> tuple[list[str], list[str], list[str]]:
        """Chinese names, some in an upstream alias spelling (法制教育, 文化素养, 国家层面 …)."""
        rng = self.rng
        dims, cores, derived = self.tiers(values)
        derived = [rng.choice(self.zh_aliases[d]) if self.zh_aliases[d] and rng.random() < alias_rate else d
                   for d in derived]
        dims = [d + "层面" if rng.random() < alias_rate / 3 else d for d in dims]
        return dims, cores, derived

    def english_values(self, values: list[dict]) -> tuple[str, str, str]:
        rng = self.rng
        dims, cores, _ = self.tiers(values)
        core_names = [rng.choice(self.core_en[c]["aliases"] or [self.core_en[c]["en"]])
                      if self.core_en[c]["aliases"] and rng.random() < 0.5 else self.core_en[c]["en"] for c in cores]
        derived = [rng.choice(self.en_aliases[v["en"]]) if self.en_aliases[v["en"]] and rng.random() < 0.1
                   else v["en"] for v in values]
        return (", ".join(self.dim_en[d]["en"] for d in dims), ", ".join(core_names), ", ".join(derived))

    def sep(self) -> str:
        return self.rng.choice(SEPARATORS)


def synthesize(out: Path, sizes: SynthSizes | None = None, seed: int = 0) -> dict:
    """Write the tree under ``out``; return (and write to ``synth_truth.json``) the ground truth."""
    sizes = sizes or SynthSizes()
    gen = _Generator(sizes, seed)
    rng = gen.rng
    out = Path(out)
    truth: dict = {"seed": seed, "sizes": asdict(sizes), "near_duplicate_groups": [], "bad_rows": [], "files": {}}

    seen: set[str] = set()
    rules: list[_Rule] = []
    while len(rules) < sizes.rules:
        parts = gen.parts()
        text = "".join(parts)
        key = dedup_key(text)
        if key in seen or not 8 <= len(text) <= 30:
            continue
        seen.add(key)
        rules.append(_Rule(parts, f"Rule {len(rules)}: it matters how one treats others.", gen.values()))
    n_bad = max(1, int(sizes.rules * sizes.bad_share))

    # the master table (GBK), with the near-duplicate copies and bad rows
    master = _Table("data_control/final.csv", ["rot", "translate", "level", "core values", "derived values"], "gbk")
    for rule in rules:
        dims, cores, derived = gen.spelled(rule.values, 0.03)
        master.add([rule.text, rule.english, "、".join(dims), "、".join(cores), "、".join(derived)])
    for base_index in rng.sample(range(len(rules)), min(len(rules), max(1, int(sizes.rules * sizes.near_dup_share)))):
        base = rules[base_index]  # each base in one group only, so a group holds every planted copy of its rule
        kinds = rng.sample(EDITS, 2 if rng.random() < 0.2 else 1)
        copies = []
        for kind in kinds:
            copy = "".join(gen.edit(base.parts, kind))
            if copy in seen or copy == base.text:
                continue
            seen.add(copy)
            copies.append((kind, copy))
            dims, cores, derived = gen.tiers(base.values)
            master.add([copy, base.english, "、".join(dims), "、".join(cores), "、".join(derived)])
        if copies:
            texts = [base.text] + [c for _, c in copies]
            truth["near_duplicate_groups"].append({
                "texts": texts, "edits": [k for k, _ in copies],
                "same_key": len({dedup_key(t) for t in texts}) == 1,
            })
    for i in range(n_bad // 2):
        rule = rules[rng.randrange(len(rules))]
        dims, cores, derived = gen.tiers(rule.values)
        if i % 2:
            master.add_bad(["", rule.english, "、".join(dims), "、".join(cores), "、".join(derived)],
                           "rot", "empty rule text")
        else:
            master.add_bad([rule.text + "！", rule.english, "、".join(dims), "、".join(cores),
                            rng.choice(UNKNOWN_VALUES)], "derived values", "unknown derived value")
    master.write(out, rng, truth)

    # labels: one annotation per rule (human or LLM or none), label mix 85 / 5 / 5 / 5
    human = [_Table("data_control/label_rot_data/human/human_labels_batch1.csv", ["rot", "标签", "重写"]),
             _Table("data_control/label_rot_data/human/human_labels_batch2.csv", ["rot", "标签", "重写"])]
    llm = _Table("data_control/label_rot_data/llm/llm_label_raw.csv",
                 ["index", "rot", "level", "core values", "derived values", "标签"])
    excluded: set[int] = set()
    for index, rule in enumerate(rules):
        who, draw = rng.random(), rng.random()
        if who >= sizes.human_share + sizes.llm_share:
            continue
        text = rule.text
        label, rewrite = (1, "") if draw < 0.85 else (-1, rule.parts[0] + "要避免" + "".join(rule.parts[1:])) \
            if draw < 0.9 else (1, "".join(rule.parts[1:])) if draw < 0.95 else (0, "")
        if label == 0:
            excluded.add(index)
        if who < sizes.human_share:
            human[index % 2].add([text, str(label), rewrite])
        else:
            dims, cores, derived = gen.tiers(rule.values)
            reply = rng.choice(LABEL_REPLIES).format(label=label, rewrite=rewrite)
            llm.add([len(llm.rows), text, gen.sep().join(dims), "、".join(cores), "、".join(derived), reply])
    for i in range(n_bad // 6):
        rule = rules[rng.randrange(len(rules))]
        if i % 2:
            human[i % 2].add_bad([rule.text, rng.choice(["2", "", "好"]), ""], "标签", "label not -1, 0 or 1")
        else:
            dims, cores, derived = gen.tiers(rule.values)
            llm.add_bad([len(llm.rows), rule.text, "、".join(dims), "、".join(cores), "、".join(derived),
                         rng.choice(BROKEN_LABEL_REPLIES)], "标签", "broken label reply")
    for table in (*human, llm):
        table.write(out, rng, truth)

    # generated rules with raw classification replies
    generated = [_Table(f"rule_generation/6_final/{name}", ["index", "rot", "derived_values"])
                 for name in GENERATED_FILES]
    for index in rng.sample(range(len(rules)), int(len(rules) * sizes.generated_share)):
        rule, table = rules[index], generated[index % len(generated)]
        dims, cores, derived = gen.spelled(rule.values, 0.05)
        colon, sep = rng.choice(COLONS), gen.sep()
        reply = f"层面{colon}{sep.join(dims)}\n核心价值{colon}{sep.join(cores)}\n衍生价值{colon}{sep.join(derived)}"
        text = ("RoT: " + rule.text) if rng.random() < 0.02 else rule.text
        table.add([len(table.rows), text, reply])
    for i in range(n_bad // 6):
        rule, table = rules[rng.randrange(len(rules))], generated[i % len(generated)]
        if i % 2:
            table.add_bad([len(table.rows), rule.text, rng.choice(BROKEN_CLASSIFICATIONS)], "derived_values",
                          "broken classification reply")
        else:
            reply = f"层面：个人\n核心价值：友善\n衍生价值：{rng.choice(UNKNOWN_VALUES)}"
            table.add_bad([len(table.rows), rule.text, reply], "derived_values", "unknown derived value")
    for table in generated:
        table.write(out, rng, truth)

    # English seed rules (linked to the Chinese ones through final.csv's translate column)
    header = ["rot", "characters", "Level", "Core Values", "Derived Values", "action", "model", "retain"]
    seeds = {"mic": _Table("basic_value_rule/mic/remain.csv", header),
             "sc101": _Table("basic_value_rule/sc101/remain.csv", header)}
    for index in sorted(rng.sample(range(len(rules)), int(len(rules) * sizes.seed_share))):
        rule = rules[index]
        source = "mic" if index % 3 == 0 else "sc101"
        retain = "0" if rng.random() < 0.03 else "1"
        seeds[source].add([rule.english, "narrator", *gen.english_values(rule.values), "helping",
                           "blenderbot" if source == "mic" else "", retain])
    for i in range(max(1, n_bad // 6)):
        rule = rules[rng.randrange(len(rules))]
        seeds["sc101"].add_bad([f"It is fine to {i} without a Chinese counterpart.", "narrator",
                                *gen.english_values(rule.values), "", "", "1"], "rot", "English rule", "english_rules")
    for table in seeds.values():
        table.write(out, rng, truth)

    published = [i for i in range(len(rules)) if i not in excluded]
    _dilemmas(out, gen, rules, published, truth)
    truth["bad_rows"].sort(key=lambda b: (b["file"], b["line"]))
    (out / "LICENSE").write_text(SYNTH_LICENSE, encoding="utf-8")
    (out / "synth_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def _dilemmas(out: Path, gen: _Generator, rules: list[_Rule], published: list[int], truth: dict) -> None:
    """Dilemmas over pairs of published rules (not labelled 0), and the models' answers."""
    rng, sizes = gen.rng, gen.sizes

    def cols(values: list[dict]) -> list[str]:
        return ["、".join(tier) for tier in gen.tiers(values)]

    pairs = [tuple(rng.sample(published, 2)) for _ in range(max(1, sizes.dilemmas // 5))]
    rule_set = _Table("moral_dilemma/dataset/1_rule_set/rule_set.csv",
                      ["rot1", "rot2", "translate1", "level1", "core_values_1", "derived_values_1", "translate2",
                       "level2", "core_values_2", "derived_values_2"])
    for a, b in pairs:  # upstream's swap: rot1/rot2 hold the English, translate1/2 the Chinese
        ra, rb = rules[a], rules[b]
        rule_set.add([ra.english, rb.english, ra.text, *cols(ra.values), rb.text, *cols(rb.values)])
    rule_set.write(out, rng, truth)
    header = ["index", "scene", "options", "rot1", "rot2", "translate1", "level1", "core_values_1",
              "derived_values_1", "translate2", "level2", "core_values_2", "derived_values_2"]
    processed = _Table("moral_dilemma/dataset/2_dilemma/2_processed/all_dilemma_1.csv", header)
    for n in range(sizes.dilemmas):
        pair = n % len(pairs)
        ra, rb = rules[pairs[pair][0]], rules[pairs[pair][1]]
        texts = [f"按照“{ra.text}”去做。", f"按照“{rb.text}”去做。", rng.choice(DISTRACTORS)]
        rng.shuffle(texts)
        sep = "\n" if n % 3 else " "
        options = sep.join(f"{letter}{rng.choice(':：')} {t}" for letter, t in zip("ABC", texts, strict=True))
        scene = f"第{n}个情境：你同时面对两条规则的要求，时间只够做一件事。你该如何选择？"
        processed.add([pair, scene, options, ra.text, rb.text, ra.english, *cols(ra.values), rb.english,
                       *cols(rb.values)])
    sample = processed.rows[: min(sizes.evaluated, len(processed.rows))]
    processed.write(out, rng, truth)
    for model in MODELS[: sizes.models]:
        answers = _Table(f"moral_dilemma/test/result/llm_result/{model}.csv",
                         ["index", "scene", "options", "result", *header[3:]])
        for index, row in enumerate(sample):
            draw = rng.random()
            reply = rng.choice("AB") if draw < 0.9 else "C" if draw < 0.95 else rng.choice(
                ["A.", "选B", "答案：A", "", "ERROR: Connection timed out"])
            answers.add([index, row[1], row[2], reply, *row[3:]])
        answers.write(out, rng, truth)
