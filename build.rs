//! Embeds the township web page (`web/page/`) and the map library vendored from the npm
//! registry at build time (`web/node_modules/leaflet/dist/`, installed by `scripts/setup.sh`
//! with `npm ci --prefix web`) into the binary. No CDN: the page loads nothing from elsewhere.
//! When the npm install has not run, the page still serves (list and buttons work) and says how
//! to get the map.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let files = [
        ("web/page/index.html", "index.html"),
        ("web/page/app.js", "app.js"),
        ("web/page/app.css", "app.css"),
        ("web/node_modules/leaflet/dist/leaflet.js", "leaflet.js"),
        ("web/node_modules/leaflet/dist/leaflet.css", "leaflet.css"),
    ];
    for (src, name) in files {
        println!("cargo:rerun-if-changed={src}");
        let text = std::fs::read_to_string(src).unwrap_or_else(|_| {
            if name == "leaflet.js" {
                println!("cargo:warning=map library missing: run `npm ci --prefix web` (scripts/setup.sh does)");
                "window.L = undefined; console.warn('firepoint: map library not built; run scripts/setup.sh');".into()
            } else {
                String::new()
            }
        });
        std::fs::write(Path::new(&out).join(name), text).expect("OUT_DIR is writable");
    }
}
