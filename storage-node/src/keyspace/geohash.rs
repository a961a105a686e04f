//! Redis's geohash arithmetic (`geohash.c`, `geohash_helper.c` and the helpers of `geo.c`):
//! 52-bit interleaved cell scores, cell decoding, neighbour cells, the 9-cell search plan of a
//! radius or box query, haversine distances and the texts Redis replies. Pure functions over
//! f64 with Redis's exact operation order, so scores, coordinates and distances are
//! bit-identical to redis-server's; the geo commands apply them to sorted sets.

use std::f64::consts::PI;

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate of a stored score (52 bits in all).
pub const STEP_MAX: u8 = 26;
/// Earth's quadratic mean radius for WGS-84, as Redis uses it.
const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = PI / 180.0;

/// A geohash cell: `step` bits per coordinate, interleaved (longitude in the odd bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// The rectangle a cell covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub lon_min: f64,
    pub lon_max: f64,
    pub lat_min: f64,
    pub lat_max: f64,
}

#[derive(Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
}

const WGS84_LON: Range = Range { min: LONG_MIN, max: LONG_MAX };
const WGS84_LAT: Range = Range { min: LAT_MIN, max: LAT_MAX };
/// The standard geohash latitude range, used only for GEOHASH's strings.
const STD_LAT: Range = Range { min: -90.0, max: 90.0 };

/// Spreads the 32 bits of `v` to the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `x` into a u32 (the inverse of `spread`).
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Whether a longitude/latitude pair is inside the limits GEOADD accepts.
pub fn valid_lon_lat(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if step == 0 || step > 32 || !valid_lon_lat(lon, lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    // C converts the offsets to uint32_t by truncation; at the upper edge the offset is
    // 2^step and its bit lands above the cell's bits, as in Redis.
    Some(Cell { bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1), step })
}

/// The WGS-84 cell of `step` bits per coordinate holding a point.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode(WGS84_LON, WGS84_LAT, lon, lat, step)
}

fn decode(lon_r: Range, lat_r: Range, cell: Cell) -> Option<Area> {
    if cell.bits == 0 && cell.step == 0 {
        return None;
    }
    let (ilat, ilon) = (squash(cell.bits), squash(cell.bits >> 1));
    let div = (1u64 << cell.step) as f64;
    let (lat_scale, lon_scale) = (lat_r.max - lat_r.min, lon_r.max - lon_r.min);
    Some(Area {
        lat_min: lat_r.min + (ilat as f64 / div) * lat_scale,
        lat_max: lat_r.min + (ilat.wrapping_add(1) as f64 / div) * lat_scale,
        lon_min: lon_r.min + (ilon as f64 / div) * lon_scale,
        lon_max: lon_r.min + (ilon.wrapping_add(1) as f64 / div) * lon_scale,
    })
}

/// The area of a WGS-84 cell.
pub fn decode_wgs84(cell: Cell) -> Option<Area> {
    decode(WGS84_LON, WGS84_LAT, cell)
}

/// A cell's centre, clamped to the valid limits: the position Redis reports for a member.
fn centre(a: &Area) -> (f64, f64) {
    let lon = ((a.lon_min + a.lon_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat_min + a.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// A member's score for a point (the cell of 26 bits per coordinate); `None` outside the limits.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(align52)
}

/// C's `(uint64_t)d` as x86-64 code computes it, out-of-range values included (Redis casts
/// any score this way, and ZADD may have set any): below 2^63 a signed truncation (negative
/// values wrap, anything unrepresentable becomes 2^63), above it the same on `d - 2^63` with
/// the top bit flipped.
fn c_double_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    const INDEFINITE: u64 = 1 << 63;
    let truncate = |x: f64| if x.is_nan() || !(-TWO63..TWO63).contains(&x) { INDEFINITE } else { x as i64 as u64 };
    if d >= TWO63 {
        truncate(d - TWO63) ^ INDEFINITE
    } else {
        truncate(d)
    }
}

/// The position (longitude, latitude) a sorted-set score stands for.
pub fn decode_score(score: f64) -> (f64, f64) {
    let cell = Cell { bits: c_double_to_u64(score), step: STEP_MAX };
    decode_wgs84(cell).map_or((0.0, 0.0), |a| centre(&a))
}

/// A cell's bits shifted to the 52-bit score scale.
pub fn align52(cell: Cell) -> u64 {
    cell.bits << (52 - cell.step as u32 * 2)
}

/// The scores `[min, max)` of the members inside a cell.
pub fn score_range(cell: Cell) -> (f64, f64) {
    let next = Cell { bits: cell.bits.wrapping_add(1), step: cell.step };
    (align52(cell) as f64, align52(next) as f64)
}

const EVEN: u64 = 0x5555_5555_5555_5555;
const ODD: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// Moves a cell east (+1) or west (-1), wrapping around as Redis's `geohash_move_x` does.
fn move_x(cell: Cell, d: i8) -> Cell {
    if d == 0 {
        return cell;
    }
    let shift = 64 - cell.step as u32 * 2;
    let (mut x, y) = (cell.bits & ODD, cell.bits & EVEN);
    let zz = EVEN >> shift;
    x = if d > 0 { x.wrapping_add(zz + 1) } else { (x | zz).wrapping_sub(zz + 1) };
    Cell { bits: (x & (ODD >> shift)) | y, step: cell.step }
}

/// Moves a cell north (+1) or south (-1), wrapping as `geohash_move_y` does.
fn move_y(cell: Cell, d: i8) -> Cell {
    if d == 0 {
        return cell;
    }
    let shift = 64 - cell.step as u32 * 2;
    let (x, mut y) = (cell.bits & ODD, cell.bits & EVEN);
    let zz = ODD >> shift;
    y = if d > 0 { y.wrapping_add(zz + 1) } else { (y | zz).wrapping_sub(zz + 1) };
    Cell { bits: x | (y & (EVEN >> shift)), step: cell.step }
}

fn moved(cell: Cell, dx: i8, dy: i8) -> Cell {
    move_y(move_x(cell, dx), dy)
}

/// Degrees to radians.
fn rad(deg: f64) -> f64 {
    deg * D_R
}

/// Distance between two latitudes on one meridian.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (rad(lat2) - rad(lat1)).abs()
}

/// Haversine great-circle distance in metres, as Redis computes it.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((rad(lon2) - rad(lon1)) / 2.0).sin();
    // Same longitude: the haversine reduces to the latitude difference (Redis's shortcut).
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Bits per coordinate of the 9 search cells for a query of `range_m` metres around `lat`.
pub fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let (mut range, mut step) = (range_m, 1i32);
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    // Make sure the range is included in most of the base cases.
    step -= 2;
    // Meridians converge towards the poles: wider cells there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Extent {
    /// BYRADIUS / GEORADIUS: a radius, in the query's unit.
    Radius(f64),
    /// BYBOX: width and height, in the query's unit.
    Box { width: f64, height: f64 },
}

/// A search: its centre, extent and unit (metres per unit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub extent: Extent,
    pub conversion: f64,
}

impl Shape {
    /// `[min_lon, min_lat, max_lon, max_lat]` around the shape (Redis's `geohashBoundingBox`).
    fn bounding_box(&self) -> [f64; 4] {
        let (half_w, half_h) = match self.extent {
            Extent::Radius(r) => (r, r),
            Extent::Box { width, height } => (width / 2.0, height / 2.0),
        };
        let (height, width) = (self.conversion * half_h, self.conversion * half_w);
        let lat_delta = height / EARTH_RADIUS_M / D_R;
        let lon_delta_top = width / EARTH_RADIUS_M / rad(self.lat + lat_delta).cos() / D_R;
        let lon_delta_bottom = width / EARTH_RADIUS_M / rad(self.lat - lat_delta).cos() / D_R;
        // The widest edge is the one nearer the equator.
        let lon_delta = if self.lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        [self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta]
    }

    /// The cells Redis scans, in its order (centre, N, S, E, W, NE, NW, SE, SW); `None` for
    /// those the bounding box shows useless (`geohashCalculateAreasByShapeWGS84`).
    pub fn search_cells(&self) -> [Option<Cell>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_m = self.conversion
            * match self.extent {
                Extent::Radius(r) => r,
                Extent::Box { width, height } => {
                    ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
                }
            };
        let mut steps = estimate_steps(radius_m, self.lat);
        let cell_at = |steps| encode_wgs84(self.lon, self.lat, steps).unwrap_or(Cell { bits: 0, step: steps });
        let mut cell = cell_at(steps);
        // A neighbour too close to the search area's edge: one step coarser.
        let area_of = |c: Cell| decode_wgs84(c);
        let too_fine = |c: Cell| {
            let (n, s) = (area_of(moved(c, 0, 1)), area_of(moved(c, 0, -1)));
            let (e, w) = (area_of(moved(c, 1, 0)), area_of(moved(c, -1, 0)));
            n.is_some_and(|a| a.lat_max < max_lat)
                || s.is_some_and(|a| a.lat_min > min_lat)
                || e.is_some_and(|a| a.lon_max < max_lon)
                || w.is_some_and(|a| a.lon_min > min_lon)
        };
        if steps > 1 && too_fine(cell) {
            steps -= 1;
            cell = cell_at(steps);
        }
        let dirs: [(i8, i8); 9] = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)];
        let mut cells = dirs.map(|(dx, dy)| Some(moved(cell, dx, dy)));
        if steps >= 2 {
            if let Some(area) = decode_wgs84(cell) {
                let drop = |cells: &mut [Option<Cell>; 9], idx: [usize; 3]| idx.iter().for_each(|&i| cells[i] = None);
                if area.lat_min < min_lat {
                    drop(&mut cells, [2, 8, 7]);
                }
                if area.lat_max > max_lat {
                    drop(&mut cells, [1, 5, 6]);
                }
                if area.lon_min < min_lon {
                    drop(&mut cells, [4, 8, 6]);
                }
                if area.lon_max > max_lon {
                    drop(&mut cells, [3, 7, 5]);
                }
            }
        }
        cells
    }

    /// The score ranges `[min, max)` to scan, in order: Redis skips a cell equal to the last
    /// one scanned, except right after the centre (its `last_processed` starts at 0).
    pub fn scan_ranges(&self) -> Vec<(f64, f64)> {
        let cells = self.search_cells();
        let mut out = Vec::with_capacity(9);
        let mut last = 0usize;
        for (i, c) in cells.iter().enumerate() {
            let Some(c) = c else { continue };
            if last != 0 && cells[last] == Some(*c) {
                continue;
            }
            out.push(score_range(*c));
            last = i;
        }
        out
    }

    /// The distance in metres from the centre to a point, when the point is inside the shape.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            Extent::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// GEOHASH's 11-character standard geohash of a score (the position re-encoded with the
/// standard latitude range; the 11th character stands for bits Redis does not have).
pub fn geohash_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let bits = encode(WGS84_LON, STD_LAT, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    (0..11)
        .map(|i| {
            let idx = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
            ALPHABET[idx as usize] as char
        })
        .collect()
}

/// A distance as Redis replies it: rounded to 4 decimals (`fixedpoint_d2string`: llrint of
/// the value times 10^4).
pub fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let u = v.unsigned_abs();
    format!("{sign}{}.{:04}", u / 10000, u % 10000)
}

/// A coordinate as Redis replies it (`%.17Lf` of the exact value, trailing zeros trimmed).
pub fn format_coord(d: f64) -> String {
    let s = format!("{d:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_redis() {
        // GEOADD k 13.361389 38.115556 Palermo 15.087269 37.502669 Catania, on redis-server.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(score_of(0.0, 0.0), Some(3377699720527872));
        assert_eq!(score_of(-180.0, -85.05112878), Some(0));
        // The upper edge carries a bit past the 52 (Redis stores 13510798882111488).
        assert_eq!(score_of(180.0, 85.05112878), Some(13510798882111488));
        assert_eq!(score_of(180.1, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
    }

    #[test]
    fn positions_match_redis() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(
            (format_coord(lon), format_coord(lat)),
            ("13.36138933897018433".into(), "38.11555639549629859".into())
        );
        let (lon, lat) = decode_score(13510798882111488.0);
        assert_eq!((format_coord(lon), format_coord(lat)), ("180".into(), "85.0511287799999991".into()));
        let (lon, lat) = decode_score(0.0);
        assert_eq!(
            (format_coord(lon), format_coord(lat)),
            ("-179.99999731779098511".into(), "-85.05112751263942528".into())
        );
        let (lon, lat) = decode_score(3377699720527872.0);
        assert_eq!(
            (format_coord(lon), format_coord(lat)),
            ("0.00000268220901489".into(), "0.00000126736058093".into())
        );
    }

    #[test]
    fn scores_set_by_zadd_decode_as_in_redis() {
        // ZADD w -5 neg 1e20 big inf pinf -inf ninf 1e19 e19, then GEOPOS on redis-server.
        let pos = |s: f64| {
            let (lon, lat) = decode_score(s);
            format!("{} {}", format_coord(lon), format_coord(lat))
        };
        assert_eq!(pos(-5.0), "180 85.0511287799999991");
        assert_eq!(pos(1e20), "-179.99999731779098511 -85.05112751263942528");
        assert_eq!(pos(f64::INFINITY), "-179.99999731779098511 -85.05112751263942528");
        assert_eq!(pos(f64::NEG_INFINITY), "180 -85.05112751263942528");
        assert_eq!(pos(1e19), "180 85.0511287799999991");
        assert_eq!(pos(0.5), "-179.99999731779098511 -85.05112751263942528");
    }

    #[test]
    fn hashes_and_distances_match_redis() {
        assert_eq!(geohash_string(3479099956230698.0), "sqc8b49rny0");
        assert_eq!(geohash_string(13510798882111488.0), "bp05b5048p0");
        assert_eq!(geohash_string(0.0), "00bh0hbj200");
        assert_eq!(geohash_string(3377699720527872.0), "s0000000000");
        let (a, b) = (decode_score(3479099956230698.0), decode_score(3479447370796909.0));
        let d = distance(a.0, a.1, b.0, b.1);
        assert_eq!(format_distance(d), "166274.1516");
        assert_eq!(format_distance(d / 1000.0), "166.2742");
        assert_eq!(format_distance(0.0), "0.0000");
    }

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0xdead_beef, u32::MAX, 1 << 26] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(squash(spread(v) << 1 >> 1), v);
        }
    }

    #[test]
    fn neighbours_wrap_like_redis() {
        let c = Cell { bits: 0, step: 2 };
        // West of the first column wraps to the last one (longitude bits all set).
        assert_eq!(moved(c, -1, 0).bits, 0b1010);
        assert_eq!(moved(c, 1, 0).bits, 0b0010);
        assert_eq!(moved(c, 0, 1).bits, 0b0001);
        assert_eq!(moved(c, 0, -1).bits, 0b0101);
    }

    #[test]
    fn step_estimation() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(200_000.0, 37.0), 6);
        assert_eq!(estimate_steps(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps(200_000.0, -85.0), 4);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
        assert_eq!(estimate_steps(0.001, 0.0), 26);
    }
}
