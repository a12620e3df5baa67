//! A self-contained HTML report: headings, paragraphs, tables from datasets, inline SVG charts,
//! and image galleries with relative links. Written atomically to `<dir>/index.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arrow::util::display::{ArrayFormatter, FormatOptions};
use ml_core::Dataset;

use super::Result;

/// One image of a gallery: a path relative to the report directory and a caption.
pub struct Thumb {
    /// Relative path of the image (from the report directory).
    pub src: String,
    /// Caption shown under the image.
    pub caption: String,
}

/// An HTML report under construction.
pub struct Report {
    title: String,
    body: String,
}

impl Report {
    /// A report with a title (also the page's first heading).
    pub fn new(title: &str) -> Self {
        Report {
            title: title.to_string(),
            body: String::new(),
        }
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
    }

    /// A paragraph of plain text (escaped).
    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A preformatted block (escaped), e.g. a terminal table.
    pub fn pre(&mut self, text: &str) {
        let _ = writeln!(self.body, "<pre>{}</pre>", escape(text));
    }

    /// A table of the first `max_rows` rows of a dataset, with a caption.
    pub fn table(&mut self, caption: &str, data: &Dataset, max_rows: usize) -> Result<()> {
        let batch = data.batch();
        let opts = FormatOptions::default().with_null("null");
        let mut html = String::new();
        let _ = write!(
            html,
            "<table><caption>{}</caption><thead><tr>",
            escape(caption)
        );
        for f in batch.schema().fields() {
            let _ = write!(html, "<th>{}</th>", escape(f.name()));
        }
        html.push_str("</tr></thead><tbody>\n");
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let numeric: Vec<bool> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().is_numeric())
            .collect();
        let rows = batch.num_rows().min(max_rows);
        for r in 0..rows {
            html.push_str("<tr>");
            for (fmt, num) in formatters.iter().zip(&numeric) {
                let class = if *num { " class=\"num\"" } else { "" };
                let _ = write!(
                    html,
                    "<td{class}>{}</td>",
                    escape(&fmt.value(r).to_string())
                );
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody></table>\n");
        if batch.num_rows() > rows {
            let _ = writeln!(
                html,
                "<p class=\"note\">{} rows; the first {rows} are shown.</p>",
                batch.num_rows()
            );
        }
        self.body.push_str(&html);
        Ok(())
    }

    /// A table from string cells.
    pub fn string_table(&mut self, caption: &str, header: &[&str], rows: &[Vec<String>]) {
        let mut html = String::new();
        let _ = write!(
            html,
            "<table><caption>{}</caption><thead><tr>",
            escape(caption)
        );
        for h in header {
            let _ = write!(html, "<th>{}</th>", escape(h));
        }
        html.push_str("</tr></thead><tbody>\n");
        for row in rows {
            html.push_str("<tr>");
            for cell in row {
                let class = if cell.parse::<f64>().is_ok() {
                    " class=\"num\""
                } else {
                    ""
                };
                let _ = write!(html, "<td{class}>{}</td>", escape(cell));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody></table>\n");
        self.body.push_str(&html);
    }

    /// An inline SVG chart (as produced by [`super::chart`]).
    pub fn svg(&mut self, svg: &str) {
        // Drop the XML declaration, if any: it is not allowed inside HTML.
        let svg = match svg.find("<svg") {
            Some(i) => &svg[i..],
            None => svg,
        };
        let _ = writeln!(self.body, "<figure>{svg}</figure>");
    }

    /// A gallery of images linked by relative paths.
    pub fn gallery(&mut self, thumbs: &[Thumb]) {
        self.body.push_str("<div class=\"gallery\">\n");
        for t in thumbs {
            let src = escape(&t.src);
            let _ = writeln!(
                self.body,
                "<figure class=\"thumb\"><a href=\"{src}\"><img src=\"{src}\" alt=\"{cap}\" width=\"192\" height=\"144\" loading=\"lazy\"></a><figcaption>{cap}</figcaption></figure>",
                cap = escape(&t.caption)
            );
        }
        self.body.push_str("</div>\n");
    }

    /// The whole page.
    pub fn html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n{}\n<footer>Generated by the <code>ml</code> examples.</footer>\n</body>\n</html>\n",
            self.body,
            t = escape(&self.title)
        )
    }

    /// Writes `<dir>/index.html` atomically and returns its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("index.html");
        ml_core::persist::write_atomic(&path, self.html().as_bytes())?;
        Ok(path)
    }
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;padding:.3em 0}\
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1em 0}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}.note{color:#666;font-size:.9em}\
.gallery{display:flex;flex-wrap:wrap;gap:8px}.thumb{margin:0;width:192px;font-size:.8em}.thumb img{display:block;object-fit:cover}\
footer{margin-top:3em;color:#888;font-size:.8em}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
