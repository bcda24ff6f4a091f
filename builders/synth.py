"""Write a synthetic raw tree in the upstream formats, at any scale, deterministically.

For benchmarks and scale tests: the real corpus (257,609 rules, ~404k dilemmas, 17 models)
is not shipped. Rules are composed from a vocabulary of contexts, actions and judgements,
so texts are realistic in length (8–30 characters) and mostly distinct; values follow
the taxonomy. The documented quirks are planted at fixed rates (GBK master table, alias
spellings, raw label replies with either colon, swapped ``rule_set.csv`` columns), as are
bad rows and near-duplicate groups (的/地, an inserted word, punctuation, a swapped
clause), whose ground truth goes to ``synth_truth.json``.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

from builders.normalizers.text import has_cjk
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
"""Nouns are drawn as random 2–3 character strings from this pool: texts stay realistic in length
and shape but rarely share long runs by accident, so the planted near-duplicates are the real ones."""
JUDGEMENTS = ["是应该的", "是不道德的", "是值得称赞的", "是不可取的", "是每个人的责任", "是违法的", "是文明的表现",
              "是不尊重人的行为", "值得提倡", "会伤害别人", "是正确的做法", "是错误的"]
REPLY_VARIANTS = ["标签：{label}\n重写：{rewrite}", "标签:{label}\n重写:{rewrite}", "标签： {label}\n重写：{rewrite}"]
MODELS = ["DeepSeek-R1", "DeepSeek-V3", "Doubao-1.5-pro-32k", "Doubao-1.5-pro-256k", "Qwen2.5-7B-Instruct",
          "Qwen2.5-32B-Instruct", "Qwen2.5-72B-Instruct", "yi-34b-chat-0205", "GLM-4-32B-0414", "gpt-4o", "o1",
          "gpt-3.5-turbo-1106", "claude-3-7-sonnet-20250219", "gemini-1.5-pro", "aihubmix-Llama-3-1-70B-Instruct",
          "aihubmix-Llama-3-1-405B-Instruct", "codestral-latest"]
DISTRACTORS = ["你决定先去整理一下衣服。", "你看了看窗外的天气。", "你打算读一本小说。", "你去倒了一杯水。"]


@dataclass(frozen=True)
class SynthSizes:
    """How much to generate; the defaults are the real corpus's sizes."""

    rules: int = 257_609
    dilemmas: int = 404_000
    models: int = 17
    evaluated: int = 10_000
    """Dilemmas each model answered."""
    bad_share: float = 0.005
    near_dup_share: float = 0.01
    label_share: float = 0.15


def _edit(text: str, kind: int) -> str:
    if kind == 0:
        return text.replace("的", "地", 1) if "的" in text else text + "的"
    if kind == 1:
        return text[:2] + "一定要" + text[2:] if "应该" not in text else text.replace("应该", "一定要", 1)
    if kind == 2:
        cut = len(text) // 2
        return text[:cut] + "，" + text[cut:] + "！"
    return text[:-2] + "呢" + text[-2:]


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root

    def csv(self, rel: str, header: list[str], rows, encoding: str = "utf-8") -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)


def synthesize(out: Path, sizes: SynthSizes | None = None, seed: int = 0) -> dict:
    """Write the tree under ``out``; return (and write) the ground truth."""
    sizes = sizes or SynthSizes()
    rng = random.Random(seed)
    tax = load_taxonomy()
    derived = tax.derived_values
    out = Path(out)
    write = _Writer(out)
    truth: dict = {"seed": seed, "sizes": sizes.__dict__, "near_duplicate_groups": [], "bad_rows": []}

    def noun() -> str:
        return rng.choice(OBJECTS) if rng.random() < 0.2 else "".join(rng.choices(CHARACTERS, k=rng.choice((2, 3))))

    seen: set[str] = set()
    rules: list[tuple[str, str, list[dict]]] = []
    while len(rules) < sizes.rules:
        text = f"{rng.choice(CONTEXTS)}{rng.choice(VERBS)}{noun()}{noun()}{rng.choice(JUDGEMENTS)}"
        if rng.random() < 0.3:
            text = f"{rng.choice(CONTEXTS)}{rng.choice(VERBS)}{noun()}并{rng.choice(VERBS)}{noun()}" \
                   f"{rng.choice(JUDGEMENTS)}"
        if text in seen:
            continue
        seen.add(text)
        values = rng.sample(derived, rng.choice((1, 1, 1, 2, 2, 3)))
        rules.append((text, f"Synthetic rule {len(rules)}.", values))

    aliases = {d["zh"]: d["aliases"][0] for d in derived if d["aliases"] and has_cjk(d["aliases"][0])}
    master = []
    for text, english, values in rules:
        names = [aliases.get(v["zh"], v["zh"]) if rng.random() < 0.03 else v["zh"] for v in values]
        dims = tax.sort("dimensions", {v["dimension"] for v in values})
        cores = tax.sort("core_values", {v["core_value"] for v in values})
        master.append([text, english, "、".join(dims), "、".join(cores), "、".join(names)])
    groups = max(1, int(sizes.rules * sizes.near_dup_share))
    for group in range(groups):
        base = master[rng.randrange(len(master))]
        copy = _edit(base[0], group % 4)
        master.append([copy, base[1], *base[2:]])
        truth["near_duplicate_groups"].append([base[0], copy])
    for _ in range(max(1, int(sizes.rules * sizes.bad_share))):
        row = list(master[rng.randrange(len(master))])
        if rng.random() < 0.5:
            row[0], reason = "", "empty rot"
        else:
            row[0], row[4], reason = row[0] + "。", "勤俭节约", "unknown derived value"
        master.append(row)
        truth["bad_rows"].append({"file": "data_control/final.csv", "line": len(master) + 1, "reason": reason})
    write.csv("data_control/final.csv", ["rot", "translate", "level", "core values", "derived values"], master,
              encoding="gbk")

    labelled = []
    unrelated: set[int] = set()
    for index, pick in enumerate(rng.sample(range(len(rules)), int(len(rules) * sizes.label_share))):
        text, _, values = rules[pick]
        draw = rng.random()
        label, rewrite = (1, "") if draw < 0.85 else (-1, f"不应该{text[:-3]}。") if draw < 0.9 \
            else (1, text[2:]) if draw < 0.95 else (0, "")
        if label == 0:
            unrelated.add(pick)
        reply = rng.choice(REPLY_VARIANTS).format(label=label, rewrite=rewrite)
        dims = "、".join(tax.sort("dimensions", {v["dimension"] for v in values}))
        cores = "、".join(tax.sort("core_values", {v["core_value"] for v in values}))
        labelled.append([index, text, dims, cores, "、".join(v["zh"] for v in values), reply])
    write.csv("data_control/label_rot_data/llm/llm_label_raw.csv",
              ["index", "rot", "level", "core values", "derived values", "标签"], labelled)

    published = [i for i in range(len(rules)) if i not in unrelated]
    _dilemmas(write, rng, rules, published, sizes, tax)
    (out / "synth_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def _dilemmas(write: _Writer, rng: random.Random, rules: list, published: list[int], sizes: SynthSizes,
              tax) -> None:
    """Dilemmas over pairs of rules that are published (not labelled 0), and the models' answers."""
    def cols(values: list[dict]) -> list[str]:
        return ["、".join(tax.sort("dimensions", {v["dimension"] for v in values})),
                "、".join(tax.sort("core_values", {v["core_value"] for v in values})),
                "、".join(v["zh"] for v in values)]

    pairs = [tuple(rng.sample(published, 2)) for _ in range(max(1, sizes.dilemmas // 5))]
    write.csv("moral_dilemma/dataset/1_rule_set/rule_set.csv",
              ["rot1", "rot2", "translate1", "level1", "core_values_1", "derived_values_1", "translate2", "level2",
               "core_values_2", "derived_values_2"],
              ([rules[a][1], rules[b][1], rules[a][0], *cols(rules[a][2]), rules[b][0], *cols(rules[b][2])]
               for a, b in pairs))
    header = ["index", "scene", "options", "rot1", "rot2", "translate1", "level1", "core_values_1",
              "derived_values_1", "translate2", "level2", "core_values_2", "derived_values_2"]
    processed = []
    for n in range(sizes.dilemmas):
        pair = n % len(pairs)
        a, b = pairs[pair]
        (ta, ea, va), (tb, eb, vb) = rules[a], rules[b]
        texts = [f"按照“{ta}”去做。", f"按照“{tb}”去做。", rng.choice(DISTRACTORS)]
        rng.shuffle(texts)
        sep = "\n" if n % 3 else " "
        options = sep.join(f"{letter}{rng.choice(':：')} {t}" for letter, t in zip("ABC", texts, strict=True))
        scene = f"第{n}个情境：你同时面对两条规则的要求，时间只够做一件事。你该如何选择？"
        processed.append([pair, scene, options, ta, tb, ea, *cols(va), eb, *cols(vb)])
    write.csv("moral_dilemma/dataset/2_dilemma/2_processed/all_dilemma_1.csv", header, processed)
    sample = processed[: min(sizes.evaluated, len(processed))]
    for model in MODELS[: sizes.models]:
        answers = []
        for index, row in enumerate(sample):
            draw = rng.random()
            reply = rng.choice("AB") if draw < 0.9 else "C" if draw < 0.95 else rng.choice(
                ["A.", "选B", "答案：A", "", "ERROR: Connection timed out"])
            answers.append([index, row[1], row[2], reply, *row[3:]])
        write.csv(f"moral_dilemma/test/result/llm_result/{model}.csv", ["index", "scene", "options", "result",
                                                                          *header[3:]], answers)
