/// One element of a DMCC message: its local name (the part after any namespace prefix), its attributes, its
/// children in document order, and its text.
///
/// DMCC messages differ from one AES release to the next in their namespaces and prefixes (`ns1:`, `acx:`, a
/// default namespace, none), so CallTrail reads every message by local name alone, as other DMCC clients learned
/// to do. Namespace declarations are kept as attributes, which `XMLElement.text(of:)` never needs.
package struct XMLElement: Sendable, Equatable {
    /// The local name: `DeliveredEvent` for `<ns1:DeliveredEvent>`.
    package var name: String
    /// Attributes by local name, in document order (`typeOfNumber`, `mediaClass`, ...).
    package var attributes: [(name: String, value: String)]
    package var children: [XMLElement]
    /// The element's own character data, entities resolved; empty for elements that only hold others.
    package var text: String

    package init(
        _ name: String, attributes: [(name: String, value: String)] = [], children: [XMLElement] = [], text: String = ""
    ) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    package static func == (lhs: XMLElement, rhs: XMLElement) -> Bool {
        lhs.name == rhs.name && lhs.text == rhs.text && lhs.children == rhs.children
            && lhs.attributes.map(\.name) == rhs.attributes.map(\.name)
            && lhs.attributes.map(\.value) == rhs.attributes.map(\.value)
    }

    /// The first child of that local name.
    package subscript(_ name: String) -> XMLElement? {
        children.first { $0.name == name }
    }

    /// The element at a path of local names below this one (`callLinkageData/globalCallData/...`).
    package func find(_ path: String...) -> XMLElement? {
        var element: XMLElement? = self
        for name in path { element = element?[name] }
        return element
    }

    /// The first descendant of that local name, depth first (private data sits at different depths by release).
    package func descendant(_ name: String) -> XMLElement? {
        for child in children {
            if child.name == name { return child }
            if let found = child.descendant(name) { return found }
        }
        return nil
    }

    /// Every descendant of that local name, in document order (not looking inside one that matches).
    package func descendants(_ name: String) -> [XMLElement] {
        children.flatMap { child in child.name == name ? [child] : child.descendants(name) }
    }

    /// The text of the child of that name, trimmed; nil when there is none or it is empty.
    package func text(of name: String) -> String? {
        guard let child = self[name] else { return nil }
        let text = child.text.trimmed
        return text.isEmpty ? nil : text
    }

    package func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }
}

extension String {
    /// Without leading and trailing XML white space (space, tab, CR, LF).
    package var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
