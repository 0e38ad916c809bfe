//! HTML escaping and URL path-segment encoding.
