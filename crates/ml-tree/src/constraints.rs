//! Monotone and interaction constraints (XGBoost's `monotone_constraints` and
//! `interaction_constraints`): parsing their string syntax, and the per-node state a tree grows
//! under them.
//!
//! **Monotone** (XGBoost's `TreeEvaluator`): with any constraint given, every node carries
//! bounds `[lower, upper]` on its weight (the root none). A node's children's weights are the
//! usual Newton weights clamped to the node's bounds; a split on a feature constrained `+1` is
//! rejected when the left weight exceeds the right (`-1`: the reverse), and gains are
//! XGBoost's gain at the clamped weights, `-(2 G w + (H + lambda) w^2)`. After a split the
//! children inherit the node's bounds, and the split's own constraint cuts them at the
//! mid-point of the two child weights: for `+1` the left child's upper bound and the right's
//! lower bound become it (`-1`: the reverse). Leaf values are the clamped weights, so every
//! leaf reachable by raising a `+1` feature has a value at least as large.
//!
//! A monotone constraint on a categorical slot is applied as XGBoost applies it: as an order
//! on the two children's weights (here the left child is the categories of the split's set),
//! which does not make predictions monotone in the category code; set it on numeric slots.
//!
//! **Interaction** (XGBoost's `FeatureInteractionConstraintHost`): the root may split on any
//! feature; a node whose path from the root used the features `P` may split on the features
//! of `P` and on those of every allowed set containing all of `P`. A feature named in no set
//! can therefore be used, but then only with itself below it.

use ml_core::{MlError, Result};

/// Parameter name of the monotone constraints.
const MONOTONE: &str = "monotone_constraints";
/// Parameter name of the interaction constraints.
const INTERACTION: &str = "interaction_constraints";

/// The constraints one model is trained under, resolved to feature indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Constraints {
    /// Per feature: -1, 0 or +1 (empty: no monotone constraints at all, XGBoost's
    /// unconstrained evaluation).
    pub monotone: Vec<i8>,
    /// Allowed interaction sets, each sorted (empty: no interaction constraints).
    pub sets: Vec<Vec<usize>>,
}

impl Constraints {
    /// Parses both parameters for `d` features named `names` (names are used by the
    /// by-name forms).
    pub fn parse(monotone: &str, interaction: &str, names: &[String], d: usize) -> Result<Self> {
        Ok(Constraints {
            monotone: parse_monotone(monotone, names, d)?,
            sets: parse_interaction(interaction, names, d)?,
        })
    }

    /// True when a monotone constraint string was given (XGBoost then evaluates every split
    /// with bounded weights, even where all constraints are 0).
    pub fn has_monotone(&self) -> bool {
        !self.monotone.is_empty()
    }

    /// True when interaction constraints were given.
    pub fn has_interaction(&self) -> bool {
        !self.sets.is_empty()
    }

    /// The constraint of feature `f` (0 when none).
    pub fn monotone_of(&self, f: usize) -> i8 {
        self.monotone.get(f).copied().unwrap_or(0)
    }

    /// Features a node may split on, given the (sorted, distinct) features `path` its
    /// ancestors split on; `None` when every feature may be used.
    pub fn allowed(&self, path: &[usize], d: usize) -> Option<Vec<bool>> {
        if !self.has_interaction() || path.is_empty() {
            return None;
        }
        let mut ok = vec![false; d];
        for &f in path {
            ok[f] = true;
        }
        for s in &self.sets {
            if path.iter().all(|f| s.binary_search(f).is_ok()) {
                for &f in s {
                    ok[f] = true;
                }
            }
        }
        Some(ok)
    }
}

/// Strips one pair of enclosing brackets `open`/`close` (after trimming).
fn strip(s: &str, open: char, close: char) -> Option<&str> {
    s.strip_prefix(open).and_then(|r| r.strip_suffix(close))
}

/// Resolves a feature named in a by-name form to its index.
fn feature_index(param: &str, name: &str, names: &[String]) -> Result<usize> {
    if let Some(i) = names.iter().position(|n| n == name) {
        return Ok(i);
    }
    let known = if names.is_empty() {
        "the features have no names".to_string()
    } else {
        format!("the features are {}", names.join(", "))
    };
    Err(MlError::param(
        param,
        format!("unknown feature '{name}' ({known})"),
    ))
}

/// Parses `monotone_constraints`: XGBoost's tuple `"(1,0,-1)"` (also `"[1,0,-1]"` or a bare
/// `"1,0,-1"`), one entry per feature in order, shorter lists padded with 0 as XGBoost pads
/// them; or the by-name form XGBoost's Python package accepts, a JSON object
/// `{"int_rate": 1, "annual_inc": -1}` (features not named are 0). Entries are -1, 0 or 1.
/// The empty string means none.
pub(crate) fn parse_monotone(s: &str, names: &[String], d: usize) -> Result<Vec<i8>> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    let entry = |v: i64, what: &str| -> Result<i8> {
        match v {
            -1..=1 => Ok(v as i8),
            _ => Err(MlError::param(
                MONOTONE,
                format!("{what}: expected -1, 0 or 1, got {v}"),
            )),
        }
    };
    if t.starts_with('{') {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(t).map_err(|e| {
                MlError::param(
                    MONOTONE,
                    format!("'{s}' is not a JSON object of feature name to -1/0/1: {e}"),
                )
            })?;
        let mut out = vec![0i8; d];
        for (name, v) in map {
            let f = feature_index(MONOTONE, &name, names)?;
            let v = v.as_i64().ok_or_else(|| {
                MlError::param(
                    MONOTONE,
                    format!("feature '{name}': expected -1, 0 or 1, got {v}"),
                )
            })?;
            out[f] = entry(v, &format!("feature '{name}'"))?;
        }
        return Ok(out);
    }
    let inner = strip(t, '(', ')')
        .or_else(|| strip(t, '[', ']'))
        .unwrap_or(t)
        .trim();
    let mut out = Vec::new();
    if !inner.is_empty() {
        for (i, part) in inner.split(',').enumerate() {
            let part = part.trim();
            let v: i64 = part.parse().map_err(|_| {
                MlError::param(
                    MONOTONE,
                    format!(
                        "'{s}': entry {i} ('{part}') is not an integer; expected XGBoost's \
                         syntax, e.g. \"(1,0,-1)\", or {{\"feature\": 1}}"
                    ),
                )
            })?;
            out.push(entry(v, &format!("entry {i}"))?);
        }
    }
    if d == usize::MAX {
        // Syntax check only (the number of features is not known yet).
        return Ok(out);
    }
    if out.len() > d {
        return Err(MlError::param(
            MONOTONE,
            format!(
                "{} constraints for {d} features (at most one per feature)",
                out.len()
            ),
        ));
    }
    out.resize(d, 0);
    Ok(out)
}

/// Parses `interaction_constraints`: XGBoost's JSON list of lists of feature indices,
/// `"[[0,1],[2,3,4]]"`, or of feature names, `[["int_rate","grade"],["dti"]]` (the form
/// XGBoost's Python package accepts). The empty string means none. Each set is returned
/// sorted and without repeats.
pub(crate) fn parse_interaction(s: &str, names: &[String], d: usize) -> Result<Vec<Vec<usize>>> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |msg: String| MlError::param(INTERACTION, msg);
    let v: serde_json::Value = serde_json::from_str(t).map_err(|e| {
        bad(format!(
            "'{s}' is not a nested list such as [[0,1],[2,3,4]]: {e}"
        ))
    })?;
    let outer = v
        .as_array()
        .ok_or_else(|| bad(format!("'{s}' is not a list of lists")))?;
    let mut sets = Vec::with_capacity(outer.len());
    for (i, set) in outer.iter().enumerate() {
        let items = set
            .as_array()
            .ok_or_else(|| bad(format!("set {i} ({set}) is not a list")))?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let f = if let Some(name) = item.as_str() {
                feature_index(INTERACTION, name, names)?
            } else {
                match item.as_u64() {
                    Some(f) if (f as usize) < d => f as usize,
                    _ => {
                        return Err(bad(format!(
                            "set {i}: {item} is not a feature index in 0..{d} or a feature name"
                        )))
                    }
                }
            };
            out.push(f);
        }
        out.sort_unstable();
        out.dedup();
        sets.push(out);
    }
    Ok(sets)
}

/// Checks the syntax of both parameters without knowing the features (names and indices are
/// resolved at fit time).
pub(crate) fn check_syntax(monotone: &str, interaction: &str) -> Result<()> {
    let t = monotone.trim();
    if !t.is_empty() && !t.starts_with('{') {
        parse_monotone(t, &[], usize::MAX)?;
    } else if t.starts_with('{') {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t).map_err(|e| {
            MlError::param(
                MONOTONE,
                format!("'{monotone}' is not a JSON object of feature name to -1/0/1: {e}"),
            )
        })?;
    }
    let t = interaction.trim();
    if !t.is_empty() {
        let v: serde_json::Value = serde_json::from_str(t).map_err(|e| {
            MlError::param(
                INTERACTION,
                format!("'{interaction}' is not a nested list such as [[0,1],[2,3,4]]: {e}"),
            )
        })?;
        let ok = v.as_array().is_some_and(|o| {
            o.iter().all(|s| {
                s.as_array()
                    .is_some_and(|s| s.iter().all(|x| x.is_u64() || x.is_string()))
            })
        });
        if !ok {
            return Err(MlError::param(
                INTERACTION,
                format!(
                    "'{interaction}' is not a list of lists of feature indices or names, \
                     such as [[0,1],[2,3,4]]"
                ),
            ));
        }
    }
    Ok(())
}

/// The monotone state of one node: bounds on its weight and its gain as a parent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Lower bound on the weights of this node's children.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl Bounds {
    /// No bounds (the root).
    pub const NONE: Bounds = Bounds {
        lower: f64::MIN,
        upper: f64::MAX,
    };

    /// `w` clamped to the bounds.
    #[inline]
    pub fn clamp(&self, w: f64) -> f64 {
        if w < self.lower {
            self.lower
        } else if w > self.upper {
            self.upper
        } else {
            w
        }
    }

    /// The bounds of a node's two children after a split with constraint `c` and (clamped)
    /// child weights `wl`, `wr`: XGBoost's mid-point rule.
    pub fn children(&self, c: i8, wl: f64, wr: f64) -> (Bounds, Bounds) {
        let (mut l, mut r) = (*self, *self);
        let mid = (wl + wr) / 2.0;
        if c < 0 {
            l.lower = mid;
            r.upper = mid;
        } else if c > 0 {
            l.upper = mid;
            r.lower = mid;
        }
        (l, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn monotone_parses_xgboost_tuples_lists_and_names() {
        let n = names();
        assert_eq!(parse_monotone("(1,0,-1)", &n, 3).unwrap(), vec![1, 0, -1]);
        assert_eq!(parse_monotone(" [1, -1] ", &n, 3).unwrap(), vec![1, -1, 0]);
        assert_eq!(parse_monotone("1,0,-1", &n, 3).unwrap(), vec![1, 0, -1]);
        assert_eq!(parse_monotone("()", &n, 3).unwrap(), vec![0, 0, 0]);
        assert_eq!(parse_monotone("", &n, 3).unwrap(), Vec::<i8>::new());
        assert_eq!(
            parse_monotone(r#"{"c": -1, "a": 1}"#, &n, 3).unwrap(),
            vec![1, 0, -1]
        );
        for bad in [
            "(1,0,-1,1)",
            "(1,x)",
            "(2)",
            r#"{"z": 1}"#,
            r#"{"a": "up"}"#,
            "{",
        ] {
            match parse_monotone(bad, &n, 3) {
                Err(MlError::InvalidParam { param, .. }) => assert_eq!(param, MONOTONE, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn interaction_parses_indices_and_names() {
        let n = names();
        assert_eq!(
            parse_interaction("[[1,0],[2, 1, 1]]", &n, 3).unwrap(),
            vec![vec![0, 1], vec![1, 2]]
        );
        assert_eq!(
            parse_interaction(r#"[["c","a"]]"#, &n, 3).unwrap(),
            vec![vec![0, 2]]
        );
        for bad in [
            "[[0,3]]",
            "[0,1]",
            "[[0,-1]]",
            "[[\"z\"]]",
            "((0,1))",
            "[[0.5]]",
        ] {
            match parse_interaction(bad, &n, 3) {
                Err(MlError::InvalidParam { param, .. }) => {
                    assert_eq!(param, INTERACTION, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn allowed_features_follow_xgboost_rule() {
        let c = Constraints {
            monotone: Vec::new(),
            sets: vec![vec![0, 1], vec![1, 2, 3]],
        };
        let d = 5;
        assert_eq!(c.allowed(&[], d), None);
        let on = |p: &[usize]| {
            let a = c.allowed(p, d).unwrap();
            (0..d).filter(|&f| a[f]).collect::<Vec<_>>()
        };
        assert_eq!(on(&[0]), vec![0, 1]);
        assert_eq!(on(&[1]), vec![0, 1, 2, 3]);
        assert_eq!(on(&[1, 2]), vec![1, 2, 3]);
        // Feature 4 is in no set: once used, only itself.
        assert_eq!(on(&[4]), vec![4]);
    }

    #[test]
    fn bounds_follow_the_midpoint_rule() {
        let (l, r) = Bounds::NONE.children(1, -1.0, 3.0);
        assert_eq!(
            (l.lower, l.upper, r.lower, r.upper),
            (f64::MIN, 1.0, 1.0, f64::MAX)
        );
        let (l, r) = l.children(-1, 0.0, -2.0);
        assert_eq!(
            (l.lower, l.upper, r.lower, r.upper),
            (-1.0, 1.0, f64::MIN, -1.0)
        );
        assert_eq!(r.clamp(0.5), -1.0);
    }
}
