//! A line diff of a settings file, before and after, in the unified format people know
//! from `git diff`: `-` lines go, `+` lines come, two lines of context around each change.

/// The diff of `before` (`None`: the file does not exist) and `after`, labelled `path`.
pub fn unified(path: &str, before: Option<&str>, after: &str) -> String {
    let old: Vec<&str> = before.map(|b| b.lines().collect()).unwrap_or_default();
    let new: Vec<&str> = after.lines().collect();
    let ops = line_ops(&old, &new);
    let mut out = match before {
        Some(_) => format!("--- {path}\n+++ {path}\n"),
        None => format!("--- /dev/null\n+++ {path}\n"),
    };
    const CONTEXT: usize = 2;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        // One hunk: changes closer than two contexts apart share it.
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i + 1 < changed.len() && changed[i + 1] <= end + 2 * CONTEXT + 1 {
            i += 1;
            end = changed[i];
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (old_start, new_start) = positions(&ops[..start]);
        let (old_len, new_len) = positions(&ops[start..end]);
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            old_start + usize::from(old_len > 0),
            new_start + usize::from(new_len > 0)
        ));
        for op in &ops[start..end] {
            match op {
                Op::Same(line) => out.push_str(&format!(" {line}\n")),
                Op::Gone(line) => out.push_str(&format!("-{line}\n")),
                Op::Added(line) => out.push_str(&format!("+{line}\n")),
            }
        }
        i += 1;
    }
    out
}

#[derive(Debug, PartialEq)]
enum Op<'a> {
    Same(&'a str),
    Gone(&'a str),
    Added(&'a str),
}

/// How many old and new lines `ops` covers.
fn positions(ops: &[Op<'_>]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(old, new), op| match op {
        Op::Same(_) => (old + 1, new + 1),
        Op::Gone(_) => (old + 1, new),
        Op::Added(_) => (old, new + 1),
    })
}

/// The edit script from a longest common subsequence (settings files are small).
fn line_ops<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push(Op::Same(old[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals first, as `diff -u` shows a replaced line.
            ops.push(Op::Gone(old[i]));
            i += 1;
        } else {
            ops.push(Op::Added(new[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_with_context() {
        let before = "a\nb\nc\nd\ne\nf\ng\n";
        let after = "a\nb\nc\nD\ne\nf\ng\n";
        assert_eq!(
            unified("f.toml", Some(before), after),
            "--- f.toml\n+++ f.toml\n@@ -2,5 +2,5 @@\n b\n c\n-d\n+D\n e\n f\n"
        );
    }

    #[test]
    fn a_new_file_is_all_additions() {
        assert_eq!(
            unified("s.json", None, "{\n}\n"),
            "--- /dev/null\n+++ s.json\n@@ -0,0 +1,2 @@\n+{\n+}\n"
        );
    }

    #[test]
    fn distant_changes_get_their_own_hunks() {
        let before: String = (0..20).map(|i| format!("{i}\n")).collect();
        let after: String = (0..20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                17 => "seventeen\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        let diff = unified("x", Some(&before), &after);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("-17\n+seventeen\n"), "{diff}");
    }

    #[test]
    fn identical_files_have_no_hunks() {
        assert_eq!(unified("x", Some("a\n"), "a\n"), "--- x\n+++ x\n");
    }
}
