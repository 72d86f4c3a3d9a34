// bvtool get --blocks and verify --blocks against bvd: the server ships the stored blocks as they
// are (GET format=blocks, docs/protocol.md §7.1) and bvtool checks and decodes them itself, on
// every core, with the tenant's keys derived from the appliance key. The server's CPU does no
// decoding, and nothing the client writes was unchecked.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "engine/block_codec.h"
#include "engine/block_pipeline.h"
#include "engine/keys.h"
#include "engine/recipe_walk.h"
#include "engine/snapshot_ref.h"
#include "engine/stream_io.h"
#include "engine/thread_pool.h"
#include "format/block_format.h"
#include "server/protocol_text.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/reply_fields.h"
#include "tools/bvtool/output_file.h"

namespace bv::tool {

namespace {

constexpr size_t kBatchOutput = 4 << 20;  // decoded bytes per batch handed to a worker, and stored bytes
constexpr size_t kBlockSizeMax = format::kBlockHeaderSize + format::kBlockPayloadMax;

// The BLOCK frames of a GET format=blocks reply (docs/protocol.md §7.1), checked to tile the
// range [begin, end) and counted against the closing line, each block's bytes read from the
// socket straight into its batch's buffer. The pipeline checks and decodes the blocks.
class FrameSource final : public engine::BlockSource {
 public:
  FrameSource(Client* client, uint64_t begin, uint64_t end) : client_(client), begin_(begin), end_(end), next_(begin) {}

  Status Gather(engine::BlockPipeline* pipeline) override;
  // "block <n> at stream offset <o>"
  std::string Place(const engine::BlockItem& item) const override {
    return "block " + std::to_string(item.number) + " at stream offset " + std::to_string(item.stream_offset);
  }
  std::string SizeAuthority() const override { return "its BLOCK line"; }

 private:
  Result<engine::BlockItem> Frame(const server::Reply& r) const;
  Status Finish(const server::Reply& ok) const;
  Status ReadExactly(uint8_t* dst, size_t n, const std::string& where);

  Client* client_;
  const uint64_t begin_, end_;
  uint64_t next_;  // the stream offset the next block must cover
  uint64_t blocks_ = 0;
};

Status FrameSource::Gather(engine::BlockPipeline* pipeline) {
  std::shared_ptr<engine::BlockBatch> batch;
  server::Reply r;
  for (;;) {
    BV_ASSIGN_OR_RETURN(r, client_->ReadReply());
    if (r.kind == "OK") break;
    if (r.kind != "BLOCK") return Status::Corruption("bvd sent a " + r.kind + " line among the blocks");
    BV_ASSIGN_OR_RETURN(engine::BlockItem item, Frame(r));
    const size_t size = format::kBlockHeaderSize + item.stored_len;
    if (batch && (batch->used + size > batch->capacity() || !pipeline->TakesOutput(*batch, item))) {
      BV_RETURN_IF_ERROR(pipeline->Submit(std::move(batch)));
      batch = nullptr;
    }
    if (!batch) batch = pipeline->NewBatch(size);
    item.at = batch->used;
    BV_RETURN_IF_ERROR(ReadExactly(batch->data() + item.at, size, Place(item)));
    batch->used += size;
    pipeline->Add(batch.get(), item);
    next_ = item.stream_offset + item.skip + item.take;
    blocks_++;
  }
  if (batch) BV_RETURN_IF_ERROR(pipeline->Submit(std::move(batch)));
  return Finish(r);
}

// The next block's item from its BLOCK line, which must continue the stream where the last
// block's output ended; the first holds `begin`.
Result<engine::BlockItem> FrameSource::Frame(const server::Reply& r) const {
  BV_ASSIGN_OR_RETURN(const uint64_t offset, ReplyNumber(r, "offset"));
  BV_ASSIGN_OR_RETURN(const uint64_t skip, ReplyNumber(r, "skip"));
  BV_ASSIGN_OR_RETURN(const uint64_t take, ReplyNumber(r, "take"));
  BV_ASSIGN_OR_RETURN(const uint64_t size, ReplyNumber(r, "size"));
  engine::BlockItem item;
  item.number = blocks_;
  item.stream_offset = offset;
  if (size < format::kBlockHeaderSize || size > kBlockSizeMax) {
    return Status::Corruption(Place(item) + ": size=" + std::to_string(size) + " is not a block's size");
  }
  const uint64_t want_skip = blocks_ == 0 ? begin_ - std::min(begin_, offset) : 0;
  if (offset + want_skip != next_ || skip != want_skip || take == 0 || skip + take > format::kBlockPayloadMax ||
      offset + skip + take > end_) {
    return Status::Corruption(Place(item) + ": does not continue the stream at byte " + std::to_string(next_));
  }
  item.stored_len = static_cast<uint32_t>(size - format::kBlockHeaderSize);
  item.skip = static_cast<uint32_t>(skip);
  item.take = static_cast<uint32_t>(take);
  // A chunk whose output ends before the range does is output whole from `skip` on: the next
  // block starts where it ends. Only the last may run on past the range.
  item.length = item.skip + item.take;
  item.length_exact = offset + skip + take < end_;
  return item;
}

// The closing line: as many blocks as arrived, and the range covered.
Status FrameSource::Finish(const server::Reply& ok) const {
  BV_ASSIGN_OR_RETURN(const uint64_t blocks, ReplyNumber(ok, "blocks"));
  BV_ASSIGN_OR_RETURN(const uint64_t bytes, ReplyNumber(ok, "bytes"));
  if (blocks != blocks_ || bytes != end_ - begin_) {
    return Status::Corruption("bvd says it sent " + std::to_string(blocks) + " blocks; " + std::to_string(blocks_) +
                              " arrived");
  }
  if (next_ != end_) {
    return Status::Corruption("the blocks cover the stream up to byte " + std::to_string(next_) + ", not " +
                              std::to_string(end_));
  }
  return Status::Ok();
}

Status FrameSource::ReadExactly(uint8_t* dst, size_t n, const std::string& where) {
  size_t have = 0;
  while (have < n) {
    BV_ASSIGN_OR_RETURN(size_t got, client_->ReadBytes(reinterpret_cast<char*>(dst) + have, n - have));
    if (got == 0) {
      return Status::IOError(where + ": the connection ended after " + std::to_string(have) + " of its " +
                             std::to_string(n) + " bytes");
    }
    have += got;
  }
  return Status::Ok();
}

// The stream's blocks through the pipeline, decoded on every core here.
Status RestoreBlocks(Client* client, const engine::BlockCodec& codec, engine::BodyCheck body_check, uint64_t begin,
                     uint64_t end, const std::optional<engine::StreamCheck>& check, engine::OutputSink* out,
                     Progress* progress) {
  engine::ThreadPool pool(engine::ThreadPool::DefaultThreads());
  engine::PipelineOptions o;
  o.codec = &codec;
  o.body_check = body_check;
  o.pool = &pool;
  o.batch_output = kBatchOutput;
  o.stored_buffer = kBatchOutput;
  FrameSource source(client, begin, end);
  engine::BlockPipeline pipeline(o);
  return pipeline.Run(&source, out, check, [progress](uint64_t n) { progress->Update(n); });
}

// The whole stream's hash, when the reply carries one.
std::optional<std::array<uint8_t, 16>> StreamHashOf(const server::Reply& head) {
  const std::string* hex = head.Field("hash");
  if (hex == nullptr) return std::nullopt;
  auto h = server::ParseHashHex(*hex);
  if (!h) Fail(Status::Corruption("bvd sent a bad stream hash: " + *hex));
  return *h;
}

// The appliance key, from --key-file or $BV_KEY_FILE: --blocks decodes here.
engine::Key ApplianceKey(const Common& c) {
  std::string key_file = c.key_file;
  if (key_file.empty() && std::getenv("BV_KEY_FILE") != nullptr) key_file = std::getenv("BV_KEY_FILE");
  if (key_file.empty()) {
    Fail(Status::InvalidArgument("--blocks checks and decodes here, with the appliance key: give --key-file or BV_KEY_FILE"));
  }
  return Check(engine::LoadMasterKeyFile(io::SystemEnv(), key_file));
}

}  // namespace

int RemoteGetBlocks(const Common& c, const Remote& remote, const std::string& ref, const std::string& out_path,
                    const std::string& range, const std::string& stream, bool verify_only) {
  const engine::Key master = ApplianceKey(c);
  auto client = Check(Client::Connect(remote));
  std::string line = "GET " + Arg(ref) + " format=blocks";
  if (!stream.empty()) line += " stream=" + Arg(stream);
  if (!range.empty()) line += " range=" + Arg(range);
  Check(client->SendLine(line));
  server::Reply head = Check(client->ReadReply());
  const uint64_t begin = FieldNumber(head, "begin"), end = FieldNumber(head, "end"), length = FieldNumber(head, "length");
  if (begin > end || end > length) Fail(Status::Corruption("bvd sent a bad range"));
  const std::string* enc = head.Field("encrypted");
  const std::string* id = head.Field("snapshot");
  const engine::VolumeKeys keys =
      engine::DeriveKeys(engine::DeriveTenantKey(master, remote.TenantName()), enc != nullptr && *enc == "true");
  const engine::BlockCodec codec(keys, 3);
  std::optional<engine::StreamCheck> check;
  if (const auto hash = StreamHashOf(head)) {
    check = engine::StreamCheck{keys.hash_key, *hash, engine::StreamPlace(id ? *id : "?", FieldNumber(head, "stream"), length)};
  }
  OutputFile output(out_path, verify_only);
  Status s;
  {
    Progress progress(verify_only ? "verify" : "get", end - begin);
    // A verify checks every block's body_xxh3 besides its tag; a get lets the tag stand for it.
    s = RestoreBlocks(client.get(), codec, verify_only ? engine::BodyCheck::kAlways : engine::BodyCheck::kWhenTagFails,
                      begin, end, check, output.sink(), &progress);
  }
  Check(output.Finish(std::move(s)));
  if (verify_only) {
    std::printf("verified %s stream %llu: %llu bytes, every block checked here\n", id ? id->c_str() : "?",
                static_cast<unsigned long long>(FieldNumber(head, "stream")), static_cast<unsigned long long>(end - begin));
  }
  return 0;
}

}  // namespace bv::tool
