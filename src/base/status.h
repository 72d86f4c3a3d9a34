// Status and Result<T>: errors are values. An operating error (bad bytes, a full disk, a missing
// file) travels up as a Status that says what and where; programmer errors are BV_ASSERTs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bv {

class [[nodiscard]] Status {
 public:
  enum class Code { kOk, kNotFound, kCorruption, kInvalidArgument, kIOError, kNotSupported, kBusy, kNoSpace, kQuota, kTimedOut,
                    kDenied };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status NotSupported(std::string m) { return Status(Code::kNotSupported, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
  // The disk (or the file system's quota) is full: ENOSPC, EDQUOT, RocksDB's NoSpace.
  static Status NoSpace(std::string m) { return Status(Code::kNoSpace, std::move(m)); }
  // A tenant's quota would be exceeded.
  static Status Quota(std::string m) { return Status(Code::kQuota, std::move(m)); }
  // Who asked may not do it (a token's role, a tenant's setting).
  static Status Denied(std::string m) { return Status(Code::kDenied, std::move(m)); }
  // A peer sent nothing for longer than allowed.
  static Status TimedOut(std::string m) { return Status(Code::kTimedOut, std::move(m)); }
  // An errno-carrying I/O error: "what: strerror(err)".
  static Status FromErrno(const std::string& what, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}     // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

[[noreturn]] void AssertFail(const char* expr, const char* file, int line);

}  // namespace bv

// Stays on in release builds: a broken invariant must stop the process, not corrupt a volume.
#define BV_ASSERT(expr) \
  ((expr) ? (void)0 : ::bv::AssertFail(#expr, __FILE__, __LINE__))

#define BV_RETURN_IF_ERROR(expr)      \
  do {                                \
    ::bv::Status bv_s_ = (expr);      \
    if (!bv_s_.ok()) return bv_s_;    \
  } while (0)

#define BV_CONCAT_INNER(a, b) a##b
#define BV_CONCAT(a, b) BV_CONCAT_INNER(a, b)
#define BV_ASSIGN_OR_RETURN(lhs, expr) BV_ASSIGN_OR_RETURN_IMPL(BV_CONCAT(bv_r_, __LINE__), lhs, expr)
#define BV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
