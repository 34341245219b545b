import MuxDelta

// MARK: - Primitive speeds (`muxsync-delta-bench primitives`)

/// Speeds of the building blocks on 64 MiB of random data: the weak checksum over whole blocks
/// and XXH3-128 per block, for the smallest and a typical block size.
func benchPrimitives() {
    let size = 64 << 20
    let bytes = BenchData.random(size, seed: 9)
    for blockSize in [700, 16_384] {
        var sink: UInt64 = 0
        let weakTimes = measure {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset + blockSize <= size {
                    let block = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + blockSize)])
                    sink &+= UInt64(WeakChecksum(block).value)
                    offset += blockSize
                }
            }
        }
        let strongTimes = measure {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset + blockSize <= size {
                    sink &+= StrongHash.of(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + blockSize)])).low
                    offset += blockSize
                }
            }
        }
        row("weak checksum, \(blockSize) B blocks", bytes: size, times: weakTimes, detail: "")
        row("XXH3-128, \(blockSize) B blocks", bytes: size, times: strongTimes, detail: "(sink \(sink & 1))")
    }
}
