//! "Did you mean": the closest name to a misspelled one, by edit distance.

/// The optimal-string-alignment (restricted Damerau-Levenshtein) distance:
/// insertions, deletions, substitutions and swaps of two neighbours each
/// cost one, so `swapiness` is 1 from `swappiness` and `swpapiness` 1 too.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: the one two back is needed for a swap.
    let mut two_back = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut two_back, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name` within `max` edits; ties go to the
/// alphabetically first, so the answer does not depend on directory order.
/// `name` itself is never suggested.
pub fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != name)
        // Lengths further apart than `max` cannot be within `max` edits.
        .filter(|c| c.chars().count().abs_diff(name.chars().count()) <= max)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= max)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("swappiness", "swappiness"), 0);
        assert_eq!(distance("swapiness", "swappiness"), 1, "a letter left out");
        assert_eq!(
            distance("swpapiness", "swappiness"),
            1,
            "two letters swapped"
        );
        assert_eq!(distance("dirty_ratoi", "dirty_ratio"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn closest_prefers_fewer_edits_then_the_alphabet() {
        let names = ["swappiness", "stat_interval", "dirty_ratio", "dirty_bytes"];
        assert_eq!(closest("swapiness", names, 2), Some("swappiness"));
        assert_eq!(closest("no_such_key", names, 2), None);
        assert_eq!(closest("swappiness", names, 2), None, "not itself");
        assert_eq!(
            closest("ab", ["ac", "aa"], 2),
            Some("aa"),
            "tie: first by name"
        );
    }
}
