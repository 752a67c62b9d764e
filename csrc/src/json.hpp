// A small JSON reader for what cxrmt reads in C++: model metadata values (palettes, channel lists)
// and TensorRT engine sidecars. Parses RFC 8259 documents; errors throw std::invalid_argument
// with the offset of the problem.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace cxrmt {
namespace detail {

struct json {
  enum class kind { null, boolean, number, string, array, object };
  kind type = kind::null;
  bool boolean = false;
  double number = 0.0;
  std::string text;                                  // kind::string
  std::vector<json> items;                           // kind::array
  std::vector<std::pair<std::string, json>> fields;  // kind::object, in document order

  // The member named `key`, or nullptr (also when this is not an object).
  const json* find(const std::string& key) const;
  // The member named `key`; throws std::invalid_argument naming `key` when it is missing.
  const json& at(const std::string& key) const;
  // Typed access; each throws std::invalid_argument naming `what` on a type mismatch.
  const std::string& as_string(const char* what) const;
  double as_number(const char* what) const;
  const std::vector<json>& as_array(const char* what) const;
};

json parse_json(const std::string& text);

}  // namespace detail
}  // namespace cxrmt
