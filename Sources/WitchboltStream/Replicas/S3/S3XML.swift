// Licensed under the Apache License, Version 2.0.
//
// The XML S3 speaks: the documents we read (ListObjectsV2 pages, error documents, the results
// of CreateMultipartUpload, CompleteMultipartUpload and DeleteObjects) parsed with Foundation's
// XMLParser into a small element tree, and the two request bodies we write (Delete and
// CompleteMultipartUpload). Namespaces are ignored: S3 puts everything in its default one.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An element of a parsed XML document: its name, its text and its child elements.
struct S3XMLElement: Sendable {
    var name: String
    var text: String = ""
    var children: [S3XMLElement] = []

    /// The first child named `name`.
    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    /// Every child named `name`.
    func all(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The text of the first child named `name`.
    func text(_ name: String) -> String? { child(name)?.text }

    /// Parses a document; nil when it is not well-formed XML.
    static func parse(_ bytes: [UInt8]) -> S3XMLElement? {
        let builder = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }
}

/// Builds the element tree from the parser's events.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [S3XMLElement] = []
    var root: S3XMLElement?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        // Drop a namespace prefix, if the server uses one.
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        stack.append(S3XMLElement(name: local))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard let done = stack.popLast() else { return }
        if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
    }
}

/// An S3 error document: `<Error><Code>NoSuchKey</Code><Message>...</Message></Error>`.
struct S3ErrorDocument: Sendable, Equatable {
    var code: String
    var message: String

    /// The error in a response body, if the body is an S3 error document.
    static func parse(_ bytes: [UInt8]) -> S3ErrorDocument? {
        guard !bytes.isEmpty, let root = S3XMLElement.parse(bytes), root.name == "Error" else { return nil }
        return S3ErrorDocument(code: root.text("Code") ?? "", message: root.text("Message") ?? "")
    }
}

/// One page of a ListObjectsV2 listing.
struct S3ListPage: Sendable, Equatable {
    /// Full keys (with the replica's prefix) and sizes.
    var objects: [(key: String, size: Int64)]
    /// The token of the next page, when the listing is truncated.
    var nextContinuationToken: String?

    static func == (a: S3ListPage, b: S3ListPage) -> Bool {
        a.nextContinuationToken == b.nextContinuationToken && a.objects.elementsEqual(b.objects) { $0 == $1 }
    }

    /// Parses a `ListBucketResult`; nil when the body is not one.
    static func parse(_ bytes: [UInt8]) -> S3ListPage? {
        guard let root = S3XMLElement.parse(bytes), root.name == "ListBucketResult" else { return nil }
        var objects: [(key: String, size: Int64)] = []
        for entry in root.all("Contents") {
            guard let key = entry.text("Key") else { return nil }
            objects.append((key, Int64(entry.text("Size") ?? "") ?? 0))
        }
        let truncated = root.text("IsTruncated") == "true"
        let token = root.text("NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
        return S3ListPage(objects: objects, nextContinuationToken: truncated ? token : nil)
    }
}

/// The bodies of DeleteObjects and CompleteMultipartUpload, and their answers.
enum S3XMLBodies {
    /// `<Delete>` with `Quiet` set: the answer lists only the keys that failed.
    static func delete(keys: [String]) -> [UInt8] {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>"#
        for key in keys { xml += "<Object><Key>\(S3Encoding.xmlEscape(key))</Key></Object>" }
        xml += "</Delete>"
        return Array(xml.utf8)
    }

    /// The keys a DeleteObjects answer reports as failed, with S3's code and message.
    static func deleteFailures(_ bytes: [UInt8]) -> [(key: String, code: String, message: String)]? {
        guard let root = S3XMLElement.parse(bytes), root.name == "DeleteResult" else { return nil }
        return root.all("Error").map { ($0.text("Key") ?? "", $0.text("Code") ?? "", $0.text("Message") ?? "") }
    }

    /// `<CompleteMultipartUpload>` listing the parts in order with their ETags.
    static func completeMultipart(etags: [String]) -> [UInt8] {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        for (index, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(S3Encoding.xmlEscape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        return Array(xml.utf8)
    }

    /// The upload id in an `InitiateMultipartUploadResult`.
    static func uploadID(_ bytes: [UInt8]) -> String? {
        guard let root = S3XMLElement.parse(bytes), root.name == "InitiateMultipartUploadResult" else { return nil }
        return root.text("UploadId").flatMap { $0.isEmpty ? nil : $0 }
    }
}
