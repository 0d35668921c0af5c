// Licensed under the Apache License, Version 2.0.
//
// The export format of the fixtures' manifests (and of `witchbolt export`): every entry in
// cursor order, depth first, one compact JSON object a line, names, keys and values in
// lowercase hex. Two databases hold the same content exactly when their exports are equal,
// whatever their page layout.

extension Tx {
    /// Calls `body` with each line of the export (without the newline), in order.
    ///
    /// Lines are `{"path":[...],"bucket":"<hex>","sequence":N}` for a bucket and
    /// `{"path":[...],"key":"<hex>","value":"<hex>"}` for a key.
    public func export(_ body: (String) throws -> Void) throws {
        func walk(_ bucket: Bucket, path: [String]) throws {
            let pathJSON = "[" + path.map { "\"\($0)\"" }.joined(separator: ",") + "]"
            let c = bucket.cursor()
            var item = try c.first()
            while let (key, value) = item {
                if let value {
                    try body("{\"path\":\(pathJSON),\"key\":\"\(hex(key))\",\"value\":\"\(hex(value))\"}")
                } else {
                    let child = try bucket.requireBucket(key)
                    try body("{\"path\":\(pathJSON),\"bucket\":\"\(hex(key))\",\"sequence\":\(child.sequence)}")
                    try walk(child, path: path + [hex(key)])
                }
                item = try c.next()
            }
        }
        try walk(root, path: [])
    }

    /// The whole export as one string, each line ending in a newline.
    public func exportString() throws -> String {
        var s = ""
        try export { line in
            s += line
            s += "\n"
        }
        return s
    }
}
