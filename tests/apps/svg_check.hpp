// tests/apps/svg_check.hpp — what the chart tests check an SVG with: XML well-formedness and
// counting occurrences. Shared by test_plot.cpp and test_gap_chart.cpp.
#pragma once

#include <string>
#include <vector>

namespace tt::testing {

// A small XML well-formedness check, enough for the SVG we write: every element closed in order,
// attribute values quoted, no stray '<' or '&' in text. Returns "" or what is wrong.
inline std::string xml_problem(const std::string& s) {
    std::vector<std::string> open;
    std::size_t i = 0;
    if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
    while (i < s.size()) {
        if (s[i] == '&') {
            std::size_t semi = s.find(';', i);
            std::string ent = s.substr(i, semi == std::string::npos ? 8 : semi - i + 1);
            if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;") return "bad entity " + ent;
            i = semi + 1;
            continue;
        }
        if (s[i] != '<') {
            if (s[i] == '>') return "stray '>' at " + std::to_string(i);
            ++i;
            continue;
        }
        std::size_t end = i + 1;
        char quote = 0;
        for (; end < s.size(); ++end) {  // the '>' ending the tag, outside quotes
            if (quote) {
                if (s[end] == quote) quote = 0;
                else if (s[end] == '<') return "'<' inside an attribute at " + std::to_string(end);
            } else if (s[end] == '"' || s[end] == '\'') {
                quote = s[end];
            } else if (s[end] == '>') {
                break;
            }
        }
        if (end >= s.size()) return "unterminated tag at " + std::to_string(i);
        std::string tag = s.substr(i + 1, end - i - 1);
        if (tag.empty()) return "empty tag";
        if (tag[0] == '/') {
            std::string name = tag.substr(1);
            if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
            open.pop_back();
        } else if (tag.back() != '/') {
            open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
        }
        i = end + 1;
    }
    if (!open.empty()) return "<" + open.back() + "> never closed";
    return "";
}

inline std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

}  // namespace tt::testing
