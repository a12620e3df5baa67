//! TreeSHAP against a brute-force Shapley computation over all feature subsets.

use ndarray::Array2;

use super::TreeShap;
use crate::tree::{CategorySet, Node, Tree};

fn uniform(seed: u64, i: u64) -> f64 {
    ml_core::dataset::unit_uniform(seed, i)
}

/// A deterministic stream of uniforms.
struct Stream {
    seed: u64,
    i: u64,
}

impl Stream {
    fn new(seed: u64) -> Self {
        Stream { seed, i: 0 }
    }
    fn next(&mut self) -> f64 {
        self.i += 1;
        uniform(self.seed, self.i)
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() * n as f64) as usize).min(n - 1)
    }
}

/// Number of categories of the categorical feature (the last one) in the random models.
const CATEGORIES: usize = 5;

/// A random tree over `d` features (the last one categorical when `cat`), depth <= `depth`,
/// with repeated features on paths, random default directions, some zero-cover leaves, and
/// inner covers equal to their children's sum.
fn random_tree(s: &mut Stream, d: usize, depth: usize, cat: bool) -> Tree {
    fn grow(
        t: &mut Tree,
        s: &mut Stream,
        d: usize,
        depth: usize,
        level: usize,
        cat: bool,
    ) -> usize {
        let me = t.nodes.len();
        let leaf = level == depth || (level > 0 && s.next() < 0.2);
        if leaf {
            let cover = if s.next() < 0.1 {
                0.0
            } else {
                0.5 + s.next() * 10.0
            };
            let value = ((s.next() * 2.0 - 1.0) as f32) as f64;
            t.nodes.push(Node::leaf(value, cover));
            return me;
        }
        let feature = s.below(d);
        let mut node = Node::leaf(0.0, 0.0);
        node.feature = feature as u32;
        node.default_left = s.next() < 0.5;
        if cat && feature == d - 1 {
            let mut set = CategorySet::new(CATEGORIES);
            for c in 0..CATEGORIES {
                if s.next() < 0.5 {
                    set.insert(c);
                }
            }
            node.category_split = Some(t.categories.len() as u32);
            t.categories.push(set);
        } else {
            node.threshold = (s.next() * 2.0 - 1.0) as f32;
        }
        t.nodes.push(node);
        let l = grow(t, s, d, depth, level + 1, cat);
        let r = grow(t, s, d, depth, level + 1, cat);
        let cover = t.nodes[l].cover + t.nodes[r].cover;
        let n = &mut t.nodes[me];
        n.left = l as u32;
        n.right = r as u32;
        n.cover = cover;
        me
    }
    let mut t = Tree {
        nodes: Vec::new(),
        categories: Vec::new(),
    };
    grow(&mut t, s, d, depth, 0, cat);
    t
}

/// Random rows: numeric values in [-1.2, 1.2] with NaNs; the categorical feature holds codes
/// (some unknown: too large, not integral) or NaN.
fn random_rows(s: &mut Stream, n: usize, d: usize, cat: bool) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |(_, j)| {
        let u = s.next();
        if u < 0.12 {
            f64::NAN
        } else if cat && j == d - 1 {
            match s.below(8) {
                6 => CATEGORIES as f64 + 1.0,
                7 => 1.5,
                c => (c % CATEGORIES) as f64,
            }
        } else {
            s.next() * 2.4 - 1.2
        }
    })
}

/// Direction of a split for value `v`, written independently of the code under test.
fn goes_left(t: &Tree, n: &Node, v: f64) -> bool {
    match n.category_split {
        None => {
            if v.is_nan() {
                n.default_left
            } else {
                (v as f32) < n.threshold
            }
        }
        Some(s) => {
            let set = &t.categories[s as usize];
            if v >= 0.0 && v.fract() == 0.0 && (v as usize) < set.num_categories as usize {
                set.contains(v as usize)
            } else {
                n.default_left
            }
        }
    }
}

/// The path-dependent conditional expectation of a tree's output when the features in `known`
/// (a bit set) are known.
fn expectation(t: &Tree, i: usize, row: &[f64], known: u32) -> f64 {
    let n = &t.nodes[i];
    if n.is_leaf() {
        return n.value;
    }
    let (l, r) = (n.left as usize, n.right as usize);
    if known >> n.feature & 1 == 1 {
        let next = if goes_left(t, n, row[n.feature as usize]) {
            l
        } else {
            r
        };
        return expectation(t, next, row, known);
    }
    let (el, er) = (expectation(t, l, row, known), expectation(t, r, row, known));
    if n.cover > 0.0 {
        (t.nodes[l].cover * el + t.nodes[r].cover * er) / n.cover
    } else {
        0.5 * (el + er)
    }
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|i| i as f64).product()
}

/// The game of one output group: base plus the trees' expectations.
fn game(trees: &[Tree], k: usize, g: usize, base: f64, row: &[f64], known: u32) -> f64 {
    base + trees
        .iter()
        .enumerate()
        .filter(|(t, _)| t % k == g)
        .map(|(_, t)| expectation(t, 0, row, known))
        .sum::<f64>()
}

/// Shapley values of the `d` players of `v`, then `v(empty)`.
fn brute_contributions(d: usize, v: &dyn Fn(u32) -> f64) -> Vec<f64> {
    let mut phi = vec![0.0; d + 1];
    for (i, p) in phi.iter_mut().enumerate().take(d) {
        for s in 0u32..1 << d {
            if s >> i & 1 == 1 {
                continue;
            }
            let size = s.count_ones() as usize;
            let w = factorial(size) * factorial(d - size - 1) / factorial(d);
            *p += w * (v(s | 1 << i) - v(s));
        }
    }
    phi[d] = v(0);
    phi
}

/// Shapley interaction values, `(d + 1) x (d + 1)` with the bias in the corner.
fn brute_interactions(d: usize, v: &dyn Fn(u32) -> f64) -> Vec<f64> {
    let c = d + 1;
    let phi = brute_contributions(d, v);
    let mut m = vec![0.0; c * c];
    for i in 0..d {
        for j in 0..d {
            if i == j {
                continue;
            }
            let mut sum = 0.0;
            for s in 0u32..1 << d {
                if s >> i & 1 == 1 || s >> j & 1 == 1 {
                    continue;
                }
                let size = s.count_ones() as usize;
                let w = factorial(size) * factorial(d - size - 2) / (2.0 * factorial(d - 1));
                let (bi, bj) = (1u32 << i, 1u32 << j);
                sum += w * (v(s | bi | bj) - v(s | bi) - v(s | bj) + v(s));
            }
            m[i * c + j] = sum;
        }
        let off: f64 = (0..d).filter(|&j| j != i).map(|j| m[i * c + j]).sum();
        m[i * c + i] = phi[i] - off;
    }
    m[d * c + d] = phi[d];
    m
}

struct Case {
    trees: Vec<Tree>,
    d: usize,
    k: usize,
    base: f64,
    x: Array2<f64>,
}

fn random_case(seed: u64, d: usize, k: usize, num_trees: usize, depth: usize, cat: bool) -> Case {
    let mut s = Stream::new(seed);
    let trees = (0..num_trees)
        .map(|_| random_tree(&mut s, d, depth, cat))
        .collect();
    let x = random_rows(&mut s, 24, d, cat);
    Case {
        trees,
        d,
        k,
        base: s.next() - 0.5,
        x,
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for seed in 0..24u64 {
        let d = 4 + (seed % 3) as usize;
        let depth = 1 + (seed % 4) as usize;
        let k = if seed % 5 == 4 { 3 } else { 1 };
        let cat = seed % 2 == 1;
        out.push(random_case(seed, d, k, 3 * k + 1, depth, cat));
    }
    out
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}: entry {i}: {x} vs {y}"
        );
    }
}

#[test]
fn contributions_equal_brute_force_shapley_values() {
    for (ci, c) in cases().iter().enumerate() {
        let shap = TreeShap::new(&c.trees, c.d, c.k, &[c.base]).unwrap();
        let fast = shap.contributions(c.x.view()).unwrap();
        let recursive = shap.contributions_with(c.x.view(), false).unwrap();
        let w = c.k * (c.d + 1);
        for (r, row) in c.x.rows().into_iter().enumerate() {
            let row = row.to_vec();
            for g in 0..c.k {
                let v = |s: u32| game(&c.trees, c.k, g, c.base, &row, s);
                let want = brute_contributions(c.d, &v);
                let at = r * w + g * (c.d + 1);
                let what = format!("case {ci}, row {r}, group {g}");
                assert_close(
                    &fast[at..at + c.d + 1],
                    &want,
                    1e-9,
                    &format!("{what} (tables)"),
                );
                assert_close(
                    &recursive[at..at + c.d + 1],
                    &want,
                    1e-9,
                    &format!("{what} (recursive)"),
                );
            }
        }
    }
}

#[test]
fn contributions_sum_to_the_margin() {
    for (ci, c) in cases().iter().enumerate() {
        let shap = TreeShap::new(&c.trees, c.d, c.k, &[c.base]).unwrap();
        let contribs = shap.contributions(c.x.view()).unwrap();
        for (r, row) in c.x.rows().into_iter().enumerate() {
            let row = row.to_vec();
            for g in 0..c.k {
                let margin = c.base
                    + c.trees
                        .iter()
                        .enumerate()
                        .filter(|(t, _)| t % c.k == g)
                        .map(|(_, t)| t.predict_row(&row))
                        .sum::<f64>();
                let at = (r * c.k + g) * (c.d + 1);
                let sum: f64 = contribs[at..at + c.d + 1].iter().sum();
                assert!(
                    (sum - margin).abs() <= 1e-9 * (1.0 + margin.abs()),
                    "case {ci}, row {r}: {sum} vs {margin}"
                );
            }
        }
    }
}

#[test]
fn interactions_equal_brute_force_and_rows_sum_to_contributions() {
    for (ci, c) in cases().iter().enumerate() {
        let shap = TreeShap::new(&c.trees, c.d, c.k, &[c.base]).unwrap();
        let contribs = shap.contributions(c.x.view()).unwrap();
        let inter = shap.interactions(c.x.view()).unwrap();
        let cols = c.d + 1;
        let m = cols * cols;
        for (r, row) in c.x.rows().into_iter().enumerate() {
            let row = row.to_vec();
            for g in 0..c.k {
                let v = |s: u32| game(&c.trees, c.k, g, c.base, &row, s);
                let want = brute_interactions(c.d, &v);
                let at = (r * c.k + g) * m;
                let got = &inter[at..at + m];
                let what = format!("case {ci}, row {r}, group {g}");
                assert_close(got, &want, 1e-9, &what);
                let phi = &contribs[(r * c.k + g) * cols..][..cols];
                for i in 0..cols {
                    let s: f64 = got[i * cols..][..cols].iter().sum();
                    assert!((s - phi[i]).abs() <= 1e-12 * (1.0 + phi[i].abs()), "{what}");
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let c = random_case(99, 6, 1, 40, 4, true);
    let mut s = Stream::new(7);
    let x = random_rows(&mut s, 1000, 6, true);
    let shap = TreeShap::new(&c.trees, c.d, 1, &[0.0]).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            (
                shap.contributions(x.view()).unwrap(),
                shap.interactions(x.slice(ndarray::s![..50, ..])).unwrap(),
            )
        })
    };
    let (a, b) = (run(1), run(3));
    assert!(a
        .0
        .iter()
        .zip(&b.0)
        .all(|(p, q)| p.to_bits() == q.to_bits()));
    assert!(a
        .1
        .iter()
        .zip(&b.1)
        .all(|(p, q)| p.to_bits() == q.to_bits()));
}

#[test]
fn broken_trees_and_inputs_are_refused() {
    let mut s = Stream::new(3);
    let t = random_tree(&mut s, 4, 3, false);
    let mut bad_child = t.clone();
    bad_child.nodes[0].left = 1000;
    assert!(TreeShap::new(&[bad_child], 4, 1, &[0.0]).is_err());
    let mut cycle = t.clone();
    cycle.nodes[0].right = cycle.nodes[0].left;
    assert!(TreeShap::new(&[cycle], 4, 1, &[0.0]).is_err());
    let mut bad_feature = t.clone();
    bad_feature.nodes[0].feature = 4;
    assert!(TreeShap::new(&[bad_feature], 4, 1, &[0.0]).is_err());
    assert!(TreeShap::new(std::slice::from_ref(&t), 4, 2, &[0.0, 1.0, 2.0]).is_err());
    let shap = TreeShap::new(&[t], 4, 1, &[0.0]).unwrap();
    assert!(shap.contributions(Array2::zeros((3, 5)).view()).is_err());
    assert_eq!(
        shap.contributions(Array2::zeros((0, 4)).view())
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn column_major_rows_give_the_same_values() {
    let c = random_case(5, 5, 1, 6, 3, true);
    let shap = TreeShap::new(&c.trees, c.d, 1, &[0.25]).unwrap();
    let a = shap.contributions(c.x.view()).unwrap();
    let t = c.x.t().to_owned();
    let b = shap.contributions(t.t()).unwrap();
    assert_eq!(a, b);
}
