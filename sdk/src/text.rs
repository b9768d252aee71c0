//! The tokenizer the default plugins share, so that the words `search` ranks
//! by are exactly the words `extract-facts` keeps sentences for.

/// Common English words that carry no topic: dropped from queries and
/// passages alike. Sorted and distinct (a test checks), so the list reads
/// easily; [`is_stop_word`] searches a packed copy.
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more",
    "most", "my", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "our",
    "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
];

/// The stop words, each packed into a `u64` ([`pack`]) and sorted as numbers,
/// so a lookup is a binary search over integers: no string comparison (a
/// `memcmp` call in WebAssembly) per probe.
const PACKED_STOP_WORDS: [u64; STOP_WORDS.len()] = pack_sorted();

/// The longest word [`pack`] keeps whole (every stop word is shorter; the
/// build fails otherwise).
const PACKED_MAX: usize = 7;

/// `word`'s bytes, little-endian, with its length in the top byte: distinct
/// for distinct words of at most [`PACKED_MAX`] bytes.
const fn pack(word: &[u8]) -> u64 {
    let mut packed = (word.len() as u64) << 56;
    let mut i = 0;
    while i < word.len() {
        packed |= (word[i] as u64) << (8 * i);
        i += 1;
    }
    packed
}

const fn pack_sorted() -> [u64; STOP_WORDS.len()] {
    let mut packed = [0u64; STOP_WORDS.len()];
    let mut i = 0;
    while i < STOP_WORDS.len() {
        assert!(
            STOP_WORDS[i].len() <= PACKED_MAX,
            "a stop word is too long to pack"
        );
        packed[i] = pack(STOP_WORDS[i].as_bytes());
        i += 1;
    }
    // Insertion sort: 130 numbers, once, at compile time.
    let mut i = 1;
    while i < packed.len() {
        let mut j = i;
        while j > 0 && packed[j - 1] > packed[j] {
            let earlier = packed[j - 1];
            packed[j - 1] = packed[j];
            packed[j] = earlier;
            j -= 1;
        }
        i += 1;
    }
    packed
}

/// Whether `word` (already lowercase) is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    // Every token of every passage comes through here: a length check and
    // seven integer comparisons.
    word.len() <= PACKED_MAX
        && PACKED_STOP_WORDS
            .binary_search(&pack(word.as_bytes()))
            .is_ok()
}

/// Split `text` into lowercase alphanumeric tokens, dropping stop words.
///
/// Anything that is not a letter or digit separates tokens, so
/// `"WASI-preopens"` yields `["wasi", "preopens"]`.
///
/// ```
/// use harness_sdk::text::{distinct_tokens, tokenize};
///
/// assert_eq!(tokenize("The WASI-preopens of a plugin"), ["wasi", "preopens", "plugin"]);
/// assert_eq!(distinct_tokens("wasm and WASM"), ["wasm"]);
/// ```
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_token(text, |token| tokens.push(token.to_string()));
    tokens
}

/// Call `f` with each token of `text`, in order: the tokens [`tokenize`]
/// returns, without a `String` for each (only a word that is not lowercase
/// already is lowercased into a new one). For counting and matching.
///
/// ```
/// let mut seen = Vec::new();
/// harness_sdk::text::for_each_token("The WASI-preopens", |t| seen.push(t.len()));
/// assert_eq!(seen, [4, 8]);
/// ```
pub fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        // Most words are lowercase ASCII already: a stop word among them is
        // dropped, and any other passed on, before any copy is made.
        if word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            if !is_stop_word(word) {
                f(word);
            }
        } else {
            let lower = word.to_lowercase();
            if !is_stop_word(&lower) {
                f(&lower);
            }
        }
    }
}

/// The distinct tokens of `text`, in order of first appearance.
pub fn distinct_tokens(text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for token in tokenize(text) {
        if !seen.contains(&token) {
            seen.push(token);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_words_are_sorted_and_distinct_so_every_one_is_found() {
        assert!(
            STOP_WORDS.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        for word in STOP_WORDS {
            assert!(is_stop_word(word), "{word}");
        }
        for word in [
            "wasi",
            "aa",
            "zzz",
            "",
            "The",
            "a\0",
            "themselves",
            "throughout",
        ] {
            assert!(!is_stop_word(word), "{word}");
        }
    }

    #[test]
    fn tokenize_lowercases_splits_and_drops_stop_words() {
        assert_eq!(
            tokenize("The WASI-preopens of a Component, v2!"),
            ["wasi", "preopens", "component", "v2"]
        );
        assert_eq!(distinct_tokens("fuel and Fuel, epoch"), ["fuel", "epoch"]);
    }

    #[test]
    fn for_each_token_sees_exactly_the_tokens_of_tokenize() {
        let text = "The WASI-preopens of a Component, v2! ΣΟΦΟΣ naïve ÉCOLE the a\0b";
        let mut seen = Vec::new();
        for_each_token(text, |t| seen.push(t.to_string()));
        assert_eq!(seen, tokenize(text));
        assert_eq!(seen.len(), 8, "{seen:?}");
    }
}
