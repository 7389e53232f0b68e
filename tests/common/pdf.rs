//! PDFs written by the tests: text the way LaTeX and browsers write it (Latin in a standard
//! font, Chinese through a CID font with a ToUnicode map), and a scan (an image, no text).

/// A one-page PDF showing `lines`, one per line.
pub fn text(lines: &[&str]) -> Vec<u8> {
    // Each character outside ASCII gets a glyph number (CID) of its own, from 1.
    let mut cids: Vec<char> = Vec::new();
    let mut content = String::from("BT\n14 TL\n50 800 Td\n");
    for line in lines {
        let mut runs: Vec<(bool, String)> = Vec::new();
        for c in line.chars() {
            let ascii = c.is_ascii();
            match runs.last_mut() {
                Some((a, run)) if *a == ascii => run.push(c),
                _ => runs.push((ascii, c.to_string())),
            }
        }
        for (ascii, run) in runs {
            if ascii {
                let escaped = run.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
                content.push_str(&format!("/F1 12 Tf ({escaped}) Tj\n"));
            } else {
                let mut hex = String::new();
                for c in run.chars() {
                    let cid = match cids.iter().position(|&k| k == c) {
                        Some(i) => i + 1,
                        None => {
                            cids.push(c);
                            cids.len()
                        }
                    };
                    hex.push_str(&format!("{cid:04X}"));
                }
                content.push_str(&format!("/F2 12 Tf <{hex}> Tj\n"));
            }
        }
        content.push_str("T*\n");
    }
    content.push_str("ET\n");

    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for (block, chars) in cids.chunks(100).enumerate() {
        cmap.push_str(&format!("{} beginbfchar\n", chars.len()));
        for (i, c) in chars.iter().enumerate() {
            let mut units = [0u16; 2];
            let hex: String = c.encode_utf16(&mut units).iter().map(|u| format!("{u:04X}")).collect();
            cmap.push_str(&format!("<{:04X}> <{hex}>\n", block * 100 + i + 1));
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");

    write(&[
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 8 0 R >>"
            .into(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
        "<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H \
         /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>"
            .into(),
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun \
         /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
         /DW 1000 /FontDescriptor 9 0 R >>"
            .into(),
        stream(&cmap),
        stream(&content),
        "<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -200 1000 800] \
         /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>"
            .into(),
    ])
}

/// A one-page PDF holding only a picture, as a scanner writes it: no text to extract.
pub fn scan() -> Vec<u8> {
    let pixels = "\u{80}".repeat(4);
    write(&[
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>"
            .into(),
        stream("q 500 0 0 700 50 70 cm /Im1 Do Q\n"),
        format!(
            "<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray \
             /BitsPerComponent 8 /Length {} >>\nstream\n{pixels}\nendstream",
            pixels.len()
        ),
    ])
}

fn stream(body: &str) -> String {
    format!("<< /Length {} >>\nstream\n{body}\nendstream", body.len())
}

/// The file: objects numbered from 1, the cross-reference table, the trailer.
fn write(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for at in offsets {
        out.extend_from_slice(format!("{at:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}
