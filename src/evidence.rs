//! The pictures that come with a camera or drone ticket (issue 20), made from the frame files:
//! the frame downscaled with the flagged region drawn (`frame.jpg`), the region at full
//! resolution (`crop.jpg`), and the same view's earlier frame with the same region drawn
//! (`before.jpg`), so that a duty officer judges the alarm by eye, beside what the view showed
//! before. Each picture is a JPEG of at most [`MAX_BYTES`], whatever the frame (a huge or
//! noisy frame is scaled down until it fits). Pure image work: the batch names the files, the
//! store keeps the bytes (`store::evidence`).

use std::path::Path;

use image::{imageops::FilterType, Rgb, RgbImage};

/// The most bytes one picture takes.
pub const MAX_BYTES: usize = 200 * 1024;
/// The longest side of the downscaled frame (pixels).
pub const FRAME_SIDE: u32 = 1280;
/// The longest side of the crop (pixels): the flagged region at full resolution up to this.
pub const CROP_SIDE: u32 = 1024;

/// One picture of a ticket's evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub name: &'static str,
    pub jpeg: Vec<u8>,
}

/// The evidence of a sighting in `frame` at `region` (fractions of the frame: x0, y0, x1, y1),
/// with `earlier` (the same view's previous frame) beside it where there is one. A frame that
/// cannot be read is an error naming it; an earlier frame that cannot be read is left out and
/// said in the note.
pub fn pictures(
    frame: &Path,
    region: [f64; 4],
    earlier: Option<&Path>,
    max_pixels: u64,
) -> Result<(Vec<Picture>, Option<String>), String> {
    let img = crate::ingest::frame::decode(frame, max_pixels).map_err(|e| e.to_string())?;
    let mut out = vec![
        Picture { name: "frame.jpg", jpeg: framed(&img, region)? },
        Picture { name: "crop.jpg", jpeg: crop(&img, region)? },
    ];
    let mut note = None;
    match earlier.map(|p| (p, crate::ingest::frame::decode(p, max_pixels))) {
        Some((_, Ok(before))) => out.push(Picture { name: "before.jpg", jpeg: framed(&before, region)? }),
        Some((p, Err(e))) => note = Some(format!("the view's earlier frame {} could not be read: {e}", p.display())),
        None => note = Some("no earlier frame of this view is kept".into()),
    }
    Ok((out, note))
}

/// `region` in pixels of a `w` × `h` image, at least one pixel, inside it.
fn pixels(region: [f64; 4], w: u32, h: u32) -> [u32; 4] {
    let clamp = |v: f64, n: u32| ((v.clamp(0.0, 1.0) * n as f64).round() as u32).min(n.saturating_sub(1));
    let (x0, y0) = (clamp(region[0], w), clamp(region[1], h));
    let (x1, y1) = (clamp(region[2], w).max(x0 + 1).min(w), clamp(region[3], h).max(y0 + 1).min(h));
    [x0, y0, x1, y1]
}

/// The frame scaled to [`FRAME_SIDE`] with `region` outlined in red.
fn framed(img: &RgbImage, region: [f64; 4]) -> Result<Vec<u8>, String> {
    let mut small = fit(img, FRAME_SIDE);
    let (w, h) = small.dimensions();
    let [x0, y0, x1, y1] = pixels(region, w, h);
    let line = (w.max(h) / 400).max(2);
    let red = Rgb([230, 20, 20]);
    for x in x0.saturating_sub(line)..(x1 + line).min(w) {
        for t in 0..line {
            for y in [y0.saturating_sub(t + 1), (y1 + t).min(h - 1)] {
                small.put_pixel(x, y, red);
            }
        }
    }
    for y in y0.saturating_sub(line)..(y1 + line).min(h) {
        for t in 0..line {
            for x in [x0.saturating_sub(t + 1), (x1 + t).min(w - 1)] {
                small.put_pixel(x, y, red);
            }
        }
    }
    jpeg_within(small)
}

/// The region grown by a quarter of its size on each side, at full resolution up to [`CROP_SIDE`].
fn crop(img: &RgbImage, region: [f64; 4]) -> Result<Vec<u8>, String> {
    let (gw, gh) = ((region[2] - region[0]) / 4.0, (region[3] - region[1]) / 4.0);
    let grown = [region[0] - gw, region[1] - gh, region[2] + gw, region[3] + gh];
    let (w, h) = img.dimensions();
    let [x0, y0, x1, y1] = pixels(grown, w, h);
    let part = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    jpeg_within(fit(&part, CROP_SIDE))
}

/// `img` scaled down so that its longest side is at most `side` (never up).
fn fit(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.max(h) <= side {
        return img.clone();
    }
    let k = side as f64 / w.max(h) as f64;
    let (nw, nh) = (((w as f64 * k).round() as u32).max(1), ((h as f64 * k).round() as u32).max(1));
    image::imageops::resize(img, nw, nh, FilterType::Triangle)
}

/// A JPEG of `img` within [`MAX_BYTES`]: quality lowered, then the picture scaled down, until
/// it fits.
fn jpeg_within(mut img: RgbImage) -> Result<Vec<u8>, String> {
    loop {
        for quality in [85, 70, 55, 40] {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
                .encode_image(&img)
                .map_err(|e| format!("cannot encode a JPEG: {e}"))?;
            if out.len() <= MAX_BYTES {
                return Ok(out);
            }
        }
        let (w, h) = img.dimensions();
        if w.max(h) <= 16 {
            return Err("a picture does not fit the evidence bound even at 16 pixels".into());
        }
        img = fit(&img, w.max(h) * 3 / 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32, seed: u64) -> RgbImage {
        let mut rng = crate::rng::SplitMix::new(seed);
        RgbImage::from_fn(w, h, |_, _| {
            Rgb([(rng.next_u64() % 256) as u8, (rng.next_u64() % 256) as u8, (rng.next_u64() % 256) as u8])
        })
    }

    #[test]
    fn r20_every_picture_fits_its_bound_even_from_a_huge_noisy_frame() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.png");
        noise(4000, 3000, 7).save(&big).unwrap();
        let before = dir.path().join("before.png");
        noise(640, 480, 8).save(&before).unwrap();
        let (pics, note) = pictures(&big, [0.0, 0.0, 1.0, 1.0], Some(&before), 50_000_000).unwrap();
        assert_eq!(pics.iter().map(|p| p.name).collect::<Vec<_>>(), ["frame.jpg", "crop.jpg", "before.jpg"]);
        assert_eq!(note, None);
        for p in &pics {
            assert!(p.jpeg.len() <= MAX_BYTES, "{} is {} bytes", p.name, p.jpeg.len());
            let img = image::load_from_memory(&p.jpeg).unwrap();
            assert!(img.width().max(img.height()) <= FRAME_SIDE, "{}: {:?}", p.name, (img.width(), img.height()));
        }
    }

    #[test]
    fn r20_the_region_is_drawn_and_cropped_where_the_sighting_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.png");
        RgbImage::from_pixel(800, 600, Rgb([40, 90, 40])).save(&path).unwrap();
        let (pics, note) = pictures(&path, [0.5, 0.5, 0.75, 0.75], None, 50_000_000).unwrap();
        assert!(note.unwrap().contains("no earlier frame"));
        let frame = image::load_from_memory(&pics[0].jpeg).unwrap().to_rgb8();
        let redness = |x: u32, y: u32| frame.get_pixel(x, y)[0] as i32 - frame.get_pixel(x, y)[1] as i32;
        assert!(redness(500, 299) > 100, "the outline's top edge at y = 300");
        assert!(redness(500, 400) < 30 && redness(100, 100) < 30, "inside and far away: the frame itself");
        // the crop is the region grown by a quarter on each side: 0.4375..0.8125 of 800 × 600
        let crop = image::load_from_memory(&pics[1].jpeg).unwrap();
        assert_eq!((crop.width(), crop.height()), (300, 225));
    }

    #[test]
    fn r20_an_unreadable_frame_is_an_error_naming_it_and_an_unreadable_earlier_one_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("cut.jpg");
        std::fs::write(&bad, b"\xff\xd8\xff\xe0 not a jpeg").unwrap();
        let err = pictures(&bad, [0.0, 0.0, 1.0, 1.0], None, 1_000_000).unwrap_err();
        assert!(err.contains("cut.jpg"), "{err}");
        let good = dir.path().join("ok.png");
        noise(64, 48, 1).save(&good).unwrap();
        let (pics, note) = pictures(&good, [0.1, 0.1, 0.2, 0.2], Some(&bad), 1_000_000).unwrap();
        assert_eq!(pics.len(), 2);
        assert!(note.unwrap().contains("cut.jpg"));
    }
}
