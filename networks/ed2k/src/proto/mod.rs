//! Sans-IO eDonkey2000 protocol core: framing, tags, messages, query trees, links.
