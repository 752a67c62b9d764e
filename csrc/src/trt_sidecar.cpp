#include "trt_sidecar.hpp"

#include "json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace cxrmt {
namespace detail {
namespace {

[[noreturn]] void mismatch(const std::string& msg) { throw std::runtime_error(msg); }

// A number as Python's str() writes it: integers without a fraction, else the shortest
// round-tripping form.
std::string number_text(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// A key value as engine_cache.mismatches prints it (str(); a missing field is None).
std::string value_text(const json* v) {
  if (!v || v->type == json::kind::null) return "None";
  if (v->type == json::kind::string) return v->text;
  if (v->type == json::kind::boolean) return v->boolean ? "True" : "False";
  if (v->type == json::kind::number) return number_text(v->number);
  return "(a JSON " + std::string(v->type == json::kind::array ? "array" : "object") + ")";
}

bool truthy(const json* v) {
  if (!v) return false;
  switch (v->type) {
    case json::kind::boolean: return v->boolean;
    case json::kind::number: return v->number != 0.0;
    case json::kind::string: return !v->text.empty();
    case json::kind::array: return !v->items.empty();
    case json::kind::object: return !v->fields.empty();
    default: return false;
  }
}

std::string basename_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// engine_cache.rebuild_command.
std::string rebuild_command(const json& sidecar, const std::string& engine_path) {
  const json* build = sidecar.find("build");
  const json* onnx = build ? build->find("onnx") : nullptr;
  std::vector<std::string> args{"cxrmt", "export",
                                onnx && onnx->type == json::kind::string ? onnx->text : "MODEL.onnx",
                                "--engine", engine_path};
  if (build && truthy(build->find("fp16_flag"))) args.push_back("--fp16");
  const json* dla = sidecar.at("key").find("dla_core");
  if (dla && dla->type != json::kind::null) {
    args.push_back("--dla");
    args.push_back(value_text(dla));
  }
  std::string cmd;
  for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
  return cmd;
}

// engine_cache.read_sidecar.
json read_sidecar(const std::string& engine_path) {
  const std::string path = sidecar_path(engine_path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    mismatch(engine_path + ": no sidecar " + basename_of(path) +
             ", so cxrmt cannot tell which ONNX, GPU and TensorRT version it was built for; rebuild it with "
             "`cxrmt export MODEL.onnx --engine " + engine_path + "`");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) mismatch(path + ": cannot be read");
  json doc;
  try {
    doc = parse_json(text.str());
  } catch (const std::invalid_argument& e) {
    mismatch(path + ": not valid JSON (" + e.what() + ")");
  }
  if (doc.type != json::kind::object || !doc.find("key") || !doc.find("model"))
    mismatch(path + ": not a cxrmt engine sidecar (needs 'key' and 'model')");
  if (doc.at("key").type != json::kind::object || doc.at("model").type != json::kind::object)
    mismatch(path + ": not a cxrmt engine sidecar ('key' and 'model' must be objects)");
  return doc;
}

// A recorded TensorRT version matches the library's major.minor.patch exactly or with more
// components after it (Python's trt.__version__ may be "10.3.0.26").
bool same_tensorrt(const json* recorded, const std::string& running) {
  if (!recorded || recorded->type != json::kind::string) return false;
  const std::string& r = recorded->text;
  return r == running || (r.size() > running.size() && r.compare(0, running.size(), running) == 0 &&
                          r[running.size()] == '.');
}

trt_sidecar contents(const json& doc, const std::string& engine_path) {
  const std::string path = sidecar_path(engine_path);
  const json& key = doc.at("key");
  trt_sidecar s;
  const json* precision = key.find("precision");
  if (!precision || precision->type != json::kind::string ||
      (precision->text != "fp32" && precision->text != "fp16"))
    mismatch(path + ": key.precision must be \"fp32\" or \"fp16\" (got " + value_text(precision) + ")");
  s.precision = precision->text;
  const json* dla = key.find("dla_core");
  if (dla && dla->type != json::kind::null) {
    if (dla->type != json::kind::number || dla->number < 0 || std::floor(dla->number) != dla->number)
      mismatch(path + ": key.dla_core must be null or a DLA core number (got " + value_text(dla) + ")");
    s.has_dla = true;
    s.dla_core = static_cast<int>(dla->number);
  }
  for (const auto& [name, value] : doc.at("model").fields) {
    if (value.type == json::kind::array || value.type == json::kind::object)
      mismatch(path + ": model." + name + " must be a string or a number");
    s.metadata[name] = value_text(&value);
  }
  s.metadata["cxrmt.precision"] = s.precision;
  s.rebuild = rebuild_command(doc, engine_path);
  return s;
}

}  // namespace

std::string sidecar_path(const std::string& engine_path) { return engine_path + ".json"; }

std::string shell_quote(const std::string& s) {
  if (s.empty()) return "''";
  bool safe = true;
  for (unsigned char c : s) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && std::string("@%+=:,./-").find(static_cast<char>(c)) == std::string::npos) safe = false;
  }
  if (safe) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
  return q + "'";
}

trt_sidecar check_sidecar(const std::string& engine_path, const trt_system& current) {
  const json doc = read_sidecar(engine_path);
  const json& key = doc.at("key");
  std::vector<std::string> bad;
  const auto field = [&](const char* name, const std::string& running, bool same) {
    if (!same) bad.push_back(std::string(name) + ": built with " + value_text(key.find(name)) + ", running " + running);
  };
  const auto equal = [&](const char* name, const std::string& running) {
    const json* v = key.find(name);
    return v && v->type == json::kind::string && v->text == running;
  };
  field("tensorrt", current.tensorrt, same_tensorrt(key.find("tensorrt"), current.tensorrt));
  field("gpu", current.gpu, equal("gpu", current.gpu));
  field("compute_capability", current.compute_capability, equal("compute_capability", current.compute_capability));
  if (!bad.empty()) {
    std::string list;
    for (const auto& b : bad) list += (list.empty() ? "" : "; ") + b;
    mismatch(engine_path + " was built for another system (" + list +
             "). TensorRT engines are specific to the GPU model and TensorRT version: rebuild it on this machine "
             "with `" + rebuild_command(doc, engine_path) + "`");
  }
  return contents(doc, engine_path);
}

}  // namespace detail
}  // namespace cxrmt
