from builders.normalizers.text import clean_text, dedup_key, has_cjk


def test_clean_text_collapses_whitespace_and_halves_fullwidth_ascii():
    assert clean_text("  使用ＡＩ\u3000工具　要负责任 \n") == "使用AI 工具 要负责任"
    assert clean_text("不要插队，要排队。") == "不要插队，要排队。"  # Chinese punctuation is kept
    assert clean_text(None) == ""


def test_dedup_key_collides_on_cosmetic_differences_only():
    assert dedup_key("醉酒驾驶是违反法律的行为。") == dedup_key(" 醉酒驾驶是违反法律的行为 ")
    assert dedup_key("不要插队,要排队") == dedup_key("不要插队，要排队")
    assert dedup_key("Be Kind.") == dedup_key("be kind")
    assert dedup_key("醉酒驾驶是违法的") != dedup_key("酒后驾驶是违法的")


def test_has_cjk():
    assert has_cjk("AI要负责任") and not has_cjk("Be kind.")


def test_key_punctuation_is_mapped_as_str_translate_maps_it():
    import random

    from builders.normalizers.text import _KEY_PUNCTUATION, _KEY_TRAILING, clean_key

    marks = [chr(code) for code in _KEY_PUNCTUATION] + ["，", "。", '"', "'", "a", "B", "规", "则", ".", "！"]
    rng = random.Random(0)
    for _ in range(20_000):
        text = "".join(rng.choice(marks) for _ in range(rng.randint(0, 12)))
        expected = text.casefold().translate(_KEY_PUNCTUATION).rstrip(_KEY_TRAILING)
        assert clean_key(text) == expected, text
