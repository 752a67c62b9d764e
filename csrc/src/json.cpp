#include "json.hpp"

#include <cstdlib>
#include <stdexcept>

namespace cxrmt {
namespace detail {
namespace {

class reader {
 public:
  explicit reader(const std::string& s) : s_(s) {}

  json document() {
    json v = value(0);
    skip_space();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;  // bounds the recursion on hostile input
  const std::string& s_;
  std::size_t i_ = 0;

  [[noreturn]] void fail(const char* what) const {
    throw std::invalid_argument("JSON: " + std::string(what) + " at offset " + std::to_string(i_));
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool take(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) { ++i_; return true; }
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail((std::string("expected '") + c + "'").c_str());
  }
  void literal(const char* word) {
    for (const char* p = word; *p; ++p, ++i_)
      if (i_ >= s_.size() || s_[i_] != *p) fail("invalid literal");
  }

  json value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end");
    json v;
    char c = s_[i_];
    if (c == '{') object(v, depth);
    else if (c == '[') array(v, depth);
    else if (c == '"') { v.type = json::kind::string; v.text = string(); }
    else if (c == 't') { literal("true"); v.type = json::kind::boolean; v.boolean = true; }
    else if (c == 'f') { literal("false"); v.type = json::kind::boolean; }
    else if (c == 'n') literal("null");
    else { v.type = json::kind::number; v.number = number(); }
    return v;
  }

  void object(json& v, int depth) {
    v.type = json::kind::object;
    ++i_;
    if (take('}')) return;
    do {
      skip_space();
      if (i_ >= s_.size() || s_[i_] != '"') fail("expected a key");
      std::string key = string();
      expect(':');
      v.fields.emplace_back(std::move(key), value(depth + 1));
    } while (take(','));
    expect('}');
  }

  void array(json& v, int depth) {
    v.type = json::kind::array;
    ++i_;
    if (take(']')) return;
    do v.items.push_back(value(depth + 1));
    while (take(','));
    expect(']');
  }

  double number() {
    const char* begin = s_.c_str() + i_;
    char* end = nullptr;
    double x = std::strtod(begin, &end);
    if (end == begin) fail("invalid value");
    i_ += static_cast<std::size_t>(end - begin);
    return x;
  }

  unsigned hex4() {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    unsigned u = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[i_++];
      u <<= 4;
      if (h >= '0' && h <= '9') u |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') u |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') u |= static_cast<unsigned>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return u;
  }

  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    ++i_;  // opening quote
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') { out += c; continue; }
      if (i_ >= s_.size()) fail("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
            i_ += 2;
            unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }
};

}  // namespace

const json* json::find(const std::string& key) const {
  if (type != kind::object) return nullptr;
  for (const auto& f : fields)
    if (f.first == key) return &f.second;
  return nullptr;
}

const json& json::at(const std::string& key) const {
  const json* v = find(key);
  if (!v) throw std::invalid_argument("JSON: no \"" + key + "\" entry");
  return *v;
}

const std::string& json::as_string(const char* what) const {
  if (type != kind::string) throw std::invalid_argument(std::string(what) + ": expected a JSON string");
  return text;
}

double json::as_number(const char* what) const {
  if (type != kind::number) throw std::invalid_argument(std::string(what) + ": expected a JSON number");
  return number;
}

const std::vector<json>& json::as_array(const char* what) const {
  if (type != kind::array) throw std::invalid_argument(std::string(what) + ": expected a JSON array");
  return items;
}

json parse_json(const std::string& text) { return reader(text).document(); }

}  // namespace detail
}  // namespace cxrmt
