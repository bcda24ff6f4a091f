from builders.stages.near_dedup import near_duplicate_pairs
from builders.stages.word_shingles import word_texts, words


def test_words_fold_case_and_drop_punctuation_but_keep_inner_apostrophes():
    assert words("Don't lie to YOUR parents, children's friends.") == [
        "don't", "lie", "to", "your", "parents", "children's", "friends"]


def test_each_distinct_word_is_one_code_point_in_order_of_first_appearance():
    a, b = word_texts(["You should respect others.", "Others should respect you!"])
    assert len(a) == len(b) == 4 and a[0] == b[3] and a[3] == b[0] and a[1:3] == b[1:3]


def test_word_bigrams_find_a_one_word_edit_of_a_long_rule_not_a_short_template():
    texts = ["In the face of provocation, one should remain calm and avoid conflict.",
             "In the face of provocation, one should remain calm and avoid impulsiveness.",
             "You should respect your parents.", "You should respect your teachers."]
    pairs, similarity = near_duplicate_pairs(word_texts(texts), shingle=2, threshold=0.7)
    assert pairs.tolist() == [[0, 1]] and similarity[0] == 10 / 12
