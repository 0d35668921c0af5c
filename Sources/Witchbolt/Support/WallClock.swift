// Licensed under the Apache License, Version 2.0.
//
// Wall-clock time for commit timestamps, without Foundation.

import CPageIO

enum WallClock {
    /// Milliseconds since the Unix epoch.
    static func nowMillis() -> Int64 { cpageio_now_millis() }
}
