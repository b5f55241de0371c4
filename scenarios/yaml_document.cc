#include "scenarios/yaml_document.h"

#include <yaml.h>

#include <unordered_map>

namespace ferry::scenarios {
namespace {

SourceMark mark_of(const yaml_mark_t& mark) {
  return SourceMark{static_cast<uint32_t>(mark.line + 1), static_cast<uint32_t>(mark.column + 1)};
}

bool is_null_scalar(const yaml_event_t& event) {
  if (event.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  const std::string_view text(reinterpret_cast<const char*>(event.data.scalar.value), event.data.scalar.length);
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

// Owns a libyaml parser; libyaml is C and cleans up only when asked.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  }
  ~Parser() { yaml_parser_delete(&parser_); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  bool next(yaml_event_t& event) { return yaml_parser_parse(&parser_, &event) == 1; }

  // libyaml's own words, where it stopped, and what it was parsing.
  void report(Diagnostics& diagnostics) const {
    std::string message = "malformed YAML: ";
    message += parser_.problem != nullptr ? parser_.problem : "cannot parse";
    if (parser_.context != nullptr) {
      const SourceMark context = mark_of(parser_.context_mark);
      message += " (" + std::string(parser_.context) + " at line " + std::to_string(context.line) + ", column " +
                 std::to_string(context.column) + ")";
    }
    const size_t offset = parser_.problem_mark.index;
    if (offset < text_.size() && text_[offset] == '\t') message += "; YAML indents with spaces, not tabs";
    diagnostics.error(mark_of(parser_.problem_mark), std::move(message));
  }

 private:
  std::string_view text_;
  yaml_parser_t parser_;
};

// Deletes an event at the end of a loop turn, whichever way the turn ends.
struct EventGuard {
  yaml_event_t* event;
  ~EventGuard() { yaml_event_delete(event); }
};

// Builds the tree from the event stream without recursion.
class TreeBuilder {
 public:
  explicit TreeBuilder(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  // False when nesting is too deep (reported).
  bool open(YamlNode node) {
    if (stack_.size() >= kMaxYamlDepth) {
      diagnostics_.error(node.mark, "nesting deeper than " + std::to_string(kMaxYamlDepth) + " levels");
      return false;
    }
    stack_.push_back(Frame{std::move(node), std::nullopt, {}});
    return true;
  }

  // Ends the innermost list or mapping and hands it to its parent; false as add().
  bool close() {
    YamlNode node = std::move(stack_.back().node);
    stack_.pop_back();
    return add(std::move(node));
  }

  // False when a key is not a plain scalar (reported).
  bool add(YamlNode node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return true;
    }
    Frame& frame = stack_.back();
    if (frame.node.is_sequence()) {
      frame.node.items.push_back(std::move(node));
      return true;
    }
    if (!frame.key) {
      if (!node.is_scalar()) {
        diagnostics_.error(node.mark, "a key must be a plain name, not " + node.describe());
        return false;
      }
      frame.key = std::move(node);
      return true;
    }
    YamlNode key = std::move(*frame.key);
    frame.key.reset();
    const auto [first, inserted] = frame.seen.emplace(key.text, key.mark);
    if (!inserted) {
      diagnostics_.error(key.mark, "duplicate key " + quote_value(key.text) + " (first at line " +
                                       std::to_string(first->second.line) + ", column " +
                                       std::to_string(first->second.column) + ")");
      return true;  // keep the first value and go on: later errors are still worth seeing
    }
    frame.node.entries.push_back(YamlEntry{std::move(key.text), key.mark, std::move(node)});
    return true;
  }

  YamlNode take_root() { return std::move(root_); }

 private:
  struct Frame {
    YamlNode node;
    std::optional<YamlNode> key;  // a mapping's key waiting for its value
    std::unordered_map<std::string, SourceMark> seen;
  };

  Diagnostics& diagnostics_;
  std::vector<Frame> stack_;
  YamlNode root_;
};

}  // namespace

std::string YamlNode::describe() const {
  switch (kind) {
    case Kind::kNull:
      return "nothing";
    case Kind::kScalar:
      return quote_value(text);
    case Kind::kSequence:
      return "a list";
    case Kind::kMapping:
      return "a mapping";
  }
  return "nothing";
}

std::optional<YamlNode> load_yaml(std::string_view text, Diagnostics& diagnostics) {
  Parser parser(text);
  TreeBuilder builder(diagnostics);
  size_t documents = 0;
  for (;;) {
    yaml_event_t event;
    if (!parser.next(event)) {
      parser.report(diagnostics);
      return std::nullopt;
    }
    EventGuard guard{&event};
    const SourceMark mark = mark_of(event.start_mark);
    switch (event.type) {
      case YAML_STREAM_END_EVENT:
        return builder.take_root();
      case YAML_DOCUMENT_START_EVENT:
        if (++documents > 1) {
          diagnostics.error(mark, "a scenario file holds one YAML document; a second one starts here");
          return std::nullopt;
        }
        break;
      case YAML_ALIAS_EVENT:
        diagnostics.error(mark, "aliases (*" + std::string(reinterpret_cast<const char*>(event.data.alias.anchor)) +
                                    ") are not supported; write the value out");
        return std::nullopt;
      case YAML_SCALAR_EVENT: {
        YamlNode node;
        node.mark = mark;
        if (!is_null_scalar(event)) {
          node.kind = YamlNode::Kind::kScalar;
          node.text.assign(reinterpret_cast<const char*>(event.data.scalar.value), event.data.scalar.length);
        }
        if (!builder.add(std::move(node))) return std::nullopt;
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        YamlNode node;
        node.mark = mark;
        node.kind = event.type == YAML_SEQUENCE_START_EVENT ? YamlNode::Kind::kSequence : YamlNode::Kind::kMapping;
        if (!builder.open(std::move(node))) return std::nullopt;
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (!builder.close()) return std::nullopt;
        break;
      default:  // stream and document boundaries carry nothing
        break;
    }
  }
}

}  // namespace ferry::scenarios
