// Reading one table of bvd's TOML configuration: each field by type and range, unknown fields
// refused, every error with the file, line, column and the field's path.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace bv::server {

// Reads one table's fields, refusing unknown ones and saying where each problem is.
class Fields {
 public:
  Fields(const toml::table& t, std::string origin, std::string path)
      : t_(t), origin_(std::move(origin)), path_(std::move(path)) {}

  Status Error(const toml::node* n, const std::string& field, const std::string& what) const {
    const auto& src = n != nullptr ? n->source() : t_.source();
    return Status::InvalidArgument(origin_ + ":" + std::to_string(src.begin.line) + ":" +
                                   std::to_string(src.begin.column) + ": " + Name(field) + ": " + what);
  }
  std::string Name(const std::string& field) const { return path_.empty() ? field : path_ + "." + field; }

  Status String(const char* key, std::string* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_string()) return Error(n, key, "must be a string");
    *out = n->as_string()->get();
    return Status::Ok();
  }
  template <typename T>
  Status Integer(const char* key, T* out, int64_t lo, int64_t hi) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_integer()) return Error(n, key, "must be an integer");
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      return Error(n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    *out = static_cast<T>(v);
    return Status::Ok();
  }
  // An integer that may be absent (then *out stays nullopt).
  template <typename T>
  Status Optional(const char* key, std::optional<T>* out, int64_t lo, int64_t hi) {
    if (t_.get(key) == nullptr) {
      seen_.insert(key);
      return Status::Ok();
    }
    T v{};
    BV_RETURN_IF_ERROR(Integer(key, &v, lo, hi));
    *out = v;
    return Status::Ok();
  }
  Status Bool(const char* key, bool* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_boolean()) return Error(n, key, "must be true or false");
    *out = n->as_boolean()->get();
    return Status::Ok();
  }
  // An array of strings; `what` says what each is, in errors.
  Status Strings(const char* key, const char* what, std::vector<std::string>* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_array()) return Error(n, key, std::string("must be an array of ") + what + " strings");
    for (const toml::node& a : *n->as_array()) {
      if (!a.is_string()) return Error(&a, key, std::string("must be an array of ") + what + " strings");
      out->push_back(a.as_string()->get());
    }
    return Status::Ok();
  }
  const toml::node* Node(const char* key) {
    seen_.insert(key);
    return t_.get(key);
  }
  Status NoOthers() const {
    for (const auto& [k, v] : t_) {
      if (!seen_.count(std::string(k.str()))) return Error(&v, std::string(k.str()), "unknown field");
    }
    return Status::Ok();
  }

 private:
  const toml::table& t_;
  std::string origin_, path_;
  std::set<std::string> seen_;
};

}  // namespace bv::server
