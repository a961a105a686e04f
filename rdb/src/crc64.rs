//! Redis's CRC-64 ("Jones" polynomial 0xad93d23594c935a9, reflected input and output, zero
//! initial value and no final xor), used for DUMP payload footers and RDB file trailers.

/// The Jones polynomial with its bits reversed, as a reflected (LSB-first) CRC needs.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// Slicing-by-8 tables: whole dump files go through this, so process 8 bytes per step.
static TABLES: [[u64; 256]; 8] = build_tables();

const fn build_tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// Extends `crc` over `data`. Start from 0; feeding a buffer in pieces gives the same result as
/// feeding it at once, which is how the file writer checksums as it streams.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = (crc ^ u64::from_le_bytes(word)).to_le_bytes();
        crc = TABLES[7][x[0] as usize]
            ^ TABLES[6][x[1] as usize]
            ^ TABLES[5][x[2] as usize]
            ^ TABLES[4][x[3] as usize]
            ^ TABLES[3][x[4] as usize]
            ^ TABLES[2][x[5] as usize]
            ^ TABLES[1][x[6] as usize]
            ^ TABLES[0][x[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLES[0][((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-at-a-time reference, to check the table-driven version against.
    fn slow(mut crc: u64, data: &[u8]) -> u64 {
        for &b in data {
            crc ^= b as u64;
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            }
        }
        crc
    }

    #[test]
    fn redis_test_vector() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn matches_bitwise_reference_and_is_incremental() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 100, 1000] {
            assert_eq!(crc64(0, &data[..len]), slow(0, &data[..len]), "len {len}");
        }
        let split = crc64(crc64(0, &data[..333]), &data[333..]);
        assert_eq!(split, crc64(0, &data));
    }
}
