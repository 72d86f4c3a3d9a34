#include "engine/hold_back_sink.h"

#include <algorithm>

namespace bv::engine {

Status HoldBackSink::Write(std::string_view bytes) {
  if (held_.size() + bytes.size() <= hold_) {
    held_.append(bytes);
    return Status::Ok();
  }
  // The oldest held bytes go first, then all of `bytes` but what stays held.
  const size_t out = held_.size() + bytes.size() - hold_;
  const size_t from_held = std::min(out, held_.size());
  BV_RETURN_IF_ERROR(out_->Write(std::string_view(held_.data(), from_held)));
  held_.erase(0, from_held);
  BV_RETURN_IF_ERROR(out_->Write(bytes.substr(0, out - from_held)));
  held_.append(bytes.substr(out - from_held));
  return Status::Ok();
}

Status HoldBackSink::Release() {
  BV_RETURN_IF_ERROR(out_->Write(held_));
  held_.clear();
  return Status::Ok();
}

}  // namespace bv::engine
