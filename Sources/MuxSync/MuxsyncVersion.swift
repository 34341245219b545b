// MARK: - Version

/// The version `muxsync --version` prints.
public enum MuxsyncVersion {
    public static let string = "0.1.0"
}
