//! Word vectors: fastText/word2vec `.vec` text files, MUSE's normalisations, and static vectors
//! derived from a model's input-embedding table.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use lux_core::{Error, IoContext, Result};

/// A vocabulary with one dense vector per word, rows in file (usually frequency) order.
///
/// The matrix is row-major `f32`, `words.len() × dim`; `index` maps a word to its row. Row
/// order matters: refinement looks for translations among the *most frequent* words, which
/// `.vec` files and spaCy tables list first.
#[derive(Debug, Clone, PartialEq)]
pub struct WordVectors {
    /// The words, one per row.
    pub words: Vec<String>,
    /// Word → row.
    pub index: HashMap<String, usize>,
    /// Row-major `words.len() × dim` values.
    pub matrix: Vec<f32>,
    /// Vector dimension.
    pub dim: usize,
}

impl WordVectors {
    /// Vectors from words and a row-major matrix. A word given twice keeps its first row (as
    /// MUSE does when reading fastText files, which contain a few duplicates); the later rows
    /// are dropped.
    pub fn new(words: Vec<String>, matrix: Vec<f32>, dim: usize) -> Result<WordVectors> {
        if dim == 0 {
            return Err(Error::invalid("dim", "word vectors need a dimension > 0"));
        }
        if matrix.len() != words.len() * dim {
            return Err(Error::invalid(
                "matrix",
                format!(
                    "{} values for {} words of dimension {dim} (expected {})",
                    matrix.len(),
                    words.len(),
                    words.len() * dim
                ),
            ));
        }
        let mut out = WordVectors::empty(dim);
        for (w, row) in words.into_iter().zip(matrix.chunks_exact(dim)) {
            out.push(w, row);
        }
        Ok(out)
    }

    /// No words, dimension `dim`.
    pub fn empty(dim: usize) -> WordVectors {
        WordVectors {
            words: Vec::new(),
            index: HashMap::new(),
            matrix: Vec::new(),
            dim,
        }
    }

    /// Appends `word` with `row` unless the word is already present; returns whether it was
    /// added. `row` must have `dim` values.
    pub fn push(&mut self, word: String, row: &[f32]) -> bool {
        assert_eq!(row.len(), self.dim, "row of the wrong dimension");
        if self.index.contains_key(&word) {
            return false;
        }
        self.index.insert(word.clone(), self.words.len());
        self.words.push(word);
        self.matrix.extend_from_slice(row);
        true
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.matrix[i * self.dim..(i + 1) * self.dim]
    }

    /// The row of `word`, if present.
    pub fn id(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// The vector of `word`, if present.
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        self.id(word).map(|i| self.row(i))
    }

    /// Keeps the first `n` rows (the most frequent words of a `.vec` file).
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        for w in self.words.drain(n..) {
            self.index.remove(&w);
        }
        self.matrix.truncate(n * self.dim);
    }

    /// The rows `ids`, in that order (a word listed twice is kept once).
    pub fn select(&self, ids: &[usize]) -> WordVectors {
        let mut out = WordVectors::empty(self.dim);
        for &i in ids {
            out.push(self.words[i].clone(), self.row(i));
        }
        out
    }

    /// The same words with another matrix of the same shape (e.g. after a mapping).
    pub fn with_matrix(&self, matrix: Vec<f32>, dim: usize) -> Result<WordVectors> {
        if matrix.len() != self.len() * dim {
            return Err(Error::invalid(
                "matrix",
                format!(
                    "{} values for {} words of dimension {dim}",
                    matrix.len(),
                    self.len()
                ),
            ));
        }
        Ok(WordVectors {
            words: self.words.clone(),
            index: self.index.clone(),
            matrix,
            dim,
        })
    }

    /// Reads a fastText/word2vec text file: a header `n d`, then `word v1 … vd` per line.
    ///
    /// The word is everything before the first ASCII space (fastText words may contain other
    /// whitespace, such as no-break spaces). `max_words` stops after that many rows, as MUSE's
    /// `--max_vocab`. Errors name the file and line. Duplicated words keep their first vector.
    pub fn read_vec(path: impl AsRef<Path>, max_words: Option<usize>) -> Result<WordVectors> {
        let path = path.as_ref();
        let file = File::open(path).with_path(path)?;
        let file_len = file.metadata().with_path(path)?.len();
        let mut lines = BufReader::new(file).lines();
        let header = match lines.next() {
            Some(l) => l.with_path(path)?,
            None => {
                return Err(Error::at_line(
                    path,
                    1,
                    "empty file: expected a header `n d`",
                ));
            }
        };
        let nums: Vec<&str> = header.split_whitespace().collect();
        let (n, dim) = match nums.as_slice() {
            [n, d] => match (n.parse::<usize>(), d.parse::<usize>()) {
                (Ok(n), Ok(d)) if d > 0 => (n, d),
                _ => {
                    return Err(Error::at_line(
                        path,
                        1,
                        format!("header `{header}` is not `<words> <dimension>`"),
                    ));
                }
            },
            _ => {
                return Err(Error::at_line(
                    path,
                    1,
                    format!("header `{header}` is not `<words> <dimension>`"),
                ));
            }
        };
        // The header's counts are claims: reserve no more than the file can hold (each value
        // takes at least two bytes, a digit and a separator), so `1 99999999999` is a short
        // file with a wrong header, not a 400 GB allocation.
        let max_values = usize::try_from(file_len / 2).unwrap_or(usize::MAX);
        let cap = max_words.unwrap_or(n).min(n);
        let mut out = WordVectors::empty(dim);
        out.words.reserve(cap.min(max_values / dim));
        out.matrix.reserve(cap.saturating_mul(dim).min(max_values));
        let mut row = Vec::with_capacity(dim.min(max_values));
        let mut duplicates = 0usize;
        for (i, line) in lines.enumerate() {
            if max_words.is_some_and(|m| out.len() >= m) {
                break;
            }
            let lineno = i + 2;
            let line = line.with_path(path)?;
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            let (word, rest) = line.split_once(' ').ok_or_else(|| {
                Error::at_line(path, lineno, "expected a word followed by its values")
            })?;
            if word.is_empty() {
                return Err(Error::at_line(path, lineno, "empty word"));
            }
            row.clear();
            for (j, v) in rest.split_ascii_whitespace().enumerate() {
                let x: f32 = v.parse().map_err(|_| {
                    Error::at_line(
                        path,
                        lineno,
                        format!("value {} `{v}` is not a number", j + 1),
                    )
                })?;
                row.push(x);
            }
            if row.len() != dim {
                return Err(Error::at_line(
                    path,
                    lineno,
                    format!("`{word}` has {} values, the header says {dim}", row.len()),
                ));
            }
            if !out.push(word.to_string(), &row) {
                duplicates += 1;
            }
        }
        if duplicates > 0 {
            tracing::warn!(
                path = %path.display(),
                duplicates,
                "repeated words in a .vec file: kept each word's first vector"
            );
        }
        Ok(out)
    }

    /// Writes a `.vec` text file (header, then one word per line), readable by fastText,
    /// gensim and MUSE. Words containing a space or a newline cannot be written.
    pub fn write_vec(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = File::create(path).with_path(path)?;
        let mut w = BufWriter::new(file);
        writeln!(w, "{} {}", self.len(), self.dim).with_path(path)?;
        for (i, word) in self.words.iter().enumerate() {
            if word.contains([' ', '\n', '\r']) || word.is_empty() {
                return Err(Error::invalid(
                    "word",
                    format!("`{word}` (row {i}) cannot be written to a .vec file"),
                ));
            }
            w.write_all(word.as_bytes()).with_path(path)?;
            for v in self.row(i) {
                // `{}` prints the shortest representation that reads back to the same f32.
                write!(w, " {v}").with_path(path)?;
            }
            w.write_all(b"\n").with_path(path)?;
        }
        w.flush().with_path(path)
    }

    /// Applies MUSE's normalisations, in order: a comma-separated list of `renorm` (unit
    /// length rows) and `center` (subtract the mean row), e.g. `renorm,center,renorm`. An
    /// empty string does nothing. All-zero rows stay zero under `renorm`.
    pub fn normalize(&mut self, spec: &str) -> Result<()> {
        for step in Normalization::parse_list(spec)? {
            step.apply(&mut self.matrix, self.dim);
        }
        Ok(())
    }

    /// Static vectors for `words` from a model's input-embedding table: each word is the mean
    /// of the rows of its sub-word tokens.
    ///
    /// `tokenize` gives a word's token ids (without special tokens); `table` is the row-major
    /// `vocab × dim` embedding matrix. Words with no tokens are skipped; a token id outside the
    /// table is an error naming the word. This is how lux gets vectors for languages that have
    /// no word vectors (Luxembourgish) from multilingual models that saw them.
    pub fn from_embedding_table<I, S, F>(
        words: I,
        tokenize: F,
        table: &[f32],
        dim: usize,
    ) -> Result<WordVectors>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        F: Fn(&str) -> Vec<u32>,
    {
        if dim == 0 || !table.len().is_multiple_of(dim) {
            return Err(Error::invalid(
                "table",
                format!("{} values are not rows of dimension {dim}", table.len()),
            ));
        }
        let vocab = table.len() / dim;
        let mut out = WordVectors::empty(dim);
        let mut acc = vec![0f32; dim];
        for word in words {
            let word: String = word.into();
            if out.index.contains_key(&word) {
                continue;
            }
            let ids = tokenize(&word);
            if ids.is_empty() {
                continue;
            }
            acc.iter_mut().for_each(|a| *a = 0.0);
            for &t in &ids {
                let t = t as usize;
                if t >= vocab {
                    return Err(Error::invalid(
                        "tokenize",
                        format!("`{word}` gave token {t}, the table has {vocab} rows"),
                    ));
                }
                for (a, v) in acc.iter_mut().zip(&table[t * dim..(t + 1) * dim]) {
                    *a += v;
                }
            }
            let inv = 1.0 / ids.len() as f32;
            acc.iter_mut().for_each(|a| *a *= inv);
            out.push(word, &acc);
        }
        Ok(out)
    }
}

impl WordVectors {
    /// Projects onto the `k` principal components of these vectors (centred first), largest
    /// variance first: how two spaces of different dimensions (a 576-d model table, 300-d
    /// spaCy vectors) are brought to a common dimension before Procrustes. Rows are not
    /// renormalised; call [`WordVectors::normalize`] afterwards.
    pub fn pca(&self, k: usize) -> Result<WordVectors> {
        let d = self.dim;
        if k == 0 || k > d {
            return Err(Error::invalid(
                "pca",
                format!("cannot keep {k} components of {d}-d vectors"),
            ));
        }
        let mut centred = self.matrix.clone();
        Normalization::Center.apply(&mut centred, d);
        let cov = super::linalg::transposed_times(&centred, d, &centred, d);
        // For a symmetric positive semi-definite matrix, the right singular vectors are the
        // eigenvectors and the singular values the eigenvalues.
        let cols = super::linalg::jacobi_columns(&cov, d);
        let mut order: Vec<(f64, usize)> = cols
            .iter()
            .enumerate()
            .map(|(j, c)| (c[..d].iter().map(|x| x * x).sum::<f64>(), j))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0));
        // Projection matrix P (k × d): row r = the r-th eigenvector; result = X Pᵀ.
        let mut p = Vec::with_capacity(k * d);
        for &(_, j) in &order[..k] {
            p.extend(cols[j][d..].iter().map(|&x| x as f32));
        }
        let n = self.len();
        let out = if n == 0 {
            Vec::new()
        } else {
            super::linalg::DeviceMatrix::new(&p, k, d).times_transposed(&centred, n, d)
        };
        self.with_matrix(out, k)
    }
}

/// One of MUSE's embedding normalisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// Scale every row to unit length.
    Renorm,
    /// Subtract the mean row.
    Center,
}

impl Normalization {
    /// Parses `renorm,center,renorm` (empty items and `none` are ignored).
    pub fn parse_list(spec: &str) -> Result<Vec<Normalization>> {
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(|s| match s {
                "renorm" => Ok(Normalization::Renorm),
                "center" => Ok(Normalization::Center),
                other => Err(Error::invalid(
                    "normalize",
                    format!("unknown normalisation `{other}` (expected renorm or center)"),
                )),
            })
            .collect()
    }

    /// Applies it to a row-major matrix with rows of `dim` values.
    pub fn apply(self, matrix: &mut [f32], dim: usize) {
        match self {
            Normalization::Renorm => renorm_rows(matrix, dim),
            Normalization::Center => {
                let n = matrix.len() / dim;
                if n == 0 {
                    return;
                }
                let mut mean = vec![0f64; dim];
                for row in matrix.chunks_exact(dim) {
                    for (m, v) in mean.iter_mut().zip(row) {
                        *m += f64::from(*v);
                    }
                }
                let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
                for row in matrix.chunks_exact_mut(dim) {
                    for (v, m) in row.iter_mut().zip(&mean) {
                        *v -= m;
                    }
                }
            }
        }
    }
}

/// Scales every row of a row-major matrix to unit Euclidean length (zero rows stay zero).
pub fn renorm_rows(matrix: &mut [f32], dim: usize) {
    for row in matrix.chunks_exact_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            let inv = 1.0 / norm;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_round_trip_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.vec");
        std::fs::write(&p, "3 2\nmaison 1 0\nchien 0.5 -2e-3\nmaison 9 9\n").unwrap();
        let v = WordVectors::read_vec(&p, None).unwrap();
        assert_eq!(v.words, ["maison", "chien"]);
        assert_eq!(v.get("chien").unwrap(), &[0.5, -2e-3]);
        let q = dir.path().join("b.vec");
        v.write_vec(&q).unwrap();
        assert_eq!(WordVectors::read_vec(&q, None).unwrap(), v);
        assert_eq!(WordVectors::read_vec(&p, Some(1)).unwrap().len(), 1);

        std::fs::write(&p, "2 2\nmaison 1 0\nchien 0.5\n").unwrap();
        let e = WordVectors::read_vec(&p, None).unwrap_err().to_string();
        assert!(e.contains("a.vec:line 3") && e.contains("1 values"), "{e}");
        std::fs::write(&p, "2 2\nmaison 1 x\n").unwrap();
        let e = WordVectors::read_vec(&p, None).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
        std::fs::write(&p, "maison 1 0\n").unwrap();
        let e = WordVectors::read_vec(&p, None).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("header"), "{e}");
    }

    #[test]
    fn normalisations_follow_muse() {
        let mut v =
            WordVectors::new(vec!["a".into(), "b".into()], vec![3.0, 4.0, 1.0, 0.0], 2).unwrap();
        v.normalize("renorm").unwrap();
        assert_eq!(v.matrix, [0.6, 0.8, 1.0, 0.0]);
        v.normalize("center").unwrap();
        assert!((v.matrix[0] + 0.2).abs() < 1e-6 && (v.matrix[1] - 0.4).abs() < 1e-6);
        v.normalize("renorm,center,renorm").unwrap();
        for r in v.matrix.chunks(2) {
            assert!((r[0] * r[0] + r[1] * r[1] - 1.0).abs() < 1e-5);
        }
        assert!(v.normalize("unit").is_err());
    }

    #[test]
    fn pca_keeps_the_largest_variance() {
        // Points along (1, 1, 0) with small noise in z: one component carries almost all.
        let mut m = Vec::new();
        for i in 0..50 {
            let t = i as f32 - 25.0;
            m.extend_from_slice(&[t, t, 0.01 * ((i % 3) as f32 - 1.0)]);
        }
        let words = (0..50).map(|i| i.to_string()).collect();
        let v = WordVectors::new(words, m, 3).unwrap();
        let p = v.pca(1).unwrap();
        assert_eq!(p.dim, 1);
        for (i, x) in p.matrix.iter().enumerate() {
            let t = i as f32 - 24.5;
            assert!((x.abs() - t.abs() * 2f32.sqrt()).abs() < 1e-2, "{i}: {x}");
        }
        assert!(v.pca(4).is_err());
    }

    #[test]
    fn embedding_table_means_subwords() {
        let table = [1.0, 0.0, 0.0, 1.0, 2.0, 2.0];
        let tok = |w: &str| match w {
            "ab" => vec![0, 1],
            "c" => vec![2],
            "bad" => vec![7],
            _ => vec![],
        };
        let v = WordVectors::from_embedding_table(["ab", "c", "zz"], tok, &table, 2).unwrap();
        assert_eq!(v.words, ["ab", "c"]);
        assert_eq!(v.row(0), &[0.5, 0.5]);
        assert!(WordVectors::from_embedding_table(["bad"], tok, &table, 2).is_err());
    }
}
