// bvtool get --blocks and verify --blocks against bvd: the server ships the stored blocks as they
// are (GET format=blocks, docs/protocol.md §7.1) and bvtool checks and decodes them itself, on
// every core, with the tenant's keys derived from the appliance key. The server's CPU does no
// decoding, and nothing the client writes was unchecked.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "engine/batch_window.h"
#include "engine/block_codec.h"
#include "engine/buffer_recycler.h"
#include "engine/keys.h"
#include "engine/snapshot_ref.h"
#include "engine/stream_hash.h"
#include "engine/stream_io.h"
#include "engine/thread_pool.h"
#include "format/block_format.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {

namespace {

constexpr size_t kBatchOutput = 4 << 20;  // decoded bytes per batch handed to a worker
constexpr size_t kBlockSizeMax = format::kBlockHeaderSize + format::kBlockPayloadMax;

struct Block {
  format::BlockHeader header;
  size_t at;  // in Batch::stored
  uint64_t offset;
  uint32_t skip, take;
  std::string_view chunk;  // set by Decode
};

struct Batch {
  explicit Batch(std::shared_ptr<engine::BufferRecycler> p) : plains(std::move(p)) {}
  ~Batch() { plains->Give(plain); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  std::string stored;
  std::vector<Block> items;
  size_t output = 0;  // decoded bytes: under kBatchOutput before the last block
  std::shared_ptr<engine::BufferRecycler> plains;
  uint8_t* plain = nullptr;  // taken when a block needs decoding; every byte handed out is written
  Status status;
};

uint64_t Field(const server::Reply& r, const char* key) { return Check(ReplyNumber(r, key)); }

// Two threads, as in the offline restore: the caller's reads and checks the frames and hands
// batches to the workers, another writes them out in order, so an output that blocks (a full
// pipe) holds up neither the socket nor the workers.
class BlockRestore {
 public:
  BlockRestore(Client* client, const engine::BlockCodec* codec, engine::BodyCheck body_check, engine::OutputSink* out)
      : client_(client), codec_(codec), body_check_(body_check), out_(out), pool_(engine::ThreadPool::DefaultThreads()),
        plains_(std::make_shared<engine::BufferRecycler>(kBatchOutput + format::kBlockPayloadMax, 2 * pool_.size() + 3)),
        window_(2 * pool_.size() + 1) {}

  // The header line has been read: begin and end of the range, and the stream hash if whole.
  Status Run(uint64_t begin, uint64_t end, std::optional<std::array<uint8_t, 16>> hash, const engine::Key& hash_key,
             Progress* progress) {
    engine::StreamHash stream_hash(hash_key);
    Status written;
    std::thread writer([&] {
      written = engine::WriteInOrder(&window_, hash ? &stream_hash : nullptr, out_, &written_,
                                     [progress](uint64_t n) { if (progress) progress->Update(n); });
      if (!written.ok()) window_.Stop();
    });
    Status gathered = Gather(begin, end);
    window_.Close();
    writer.join();
    BV_RETURN_IF_ERROR(written);
    BV_RETURN_IF_ERROR(gathered);
    if (hash && stream_hash.Finish() != *hash) {
      return Status::Corruption("the restored stream does not match its recorded hash");
    }
    return Status::Ok();
  }

 private:
  // Reads the BLOCK frames up to the count line, checking that they tile [begin, end).
  Status Gather(uint64_t begin, uint64_t end) {
    uint64_t next = begin;  // the stream offset the next block must cover
    bool first = true;
    auto batch = NewBatch();
    uint64_t blocks = 0;
    for (;;) {
      BV_ASSIGN_OR_RETURN(server::Reply r, client_->ReadReply());
      if (r.kind == "OK") {
        if (Field(r, "blocks") != blocks || Field(r, "bytes") != end - begin) {
          return Status::Corruption("bvd says it sent " + *r.Field("blocks") + " blocks; " + std::to_string(blocks) +
                                    " arrived");
        }
        break;
      }
      if (r.kind != "BLOCK") return Status::Corruption("bvd sent a " + r.kind + " line among the blocks");
      const uint64_t offset = Field(r, "offset"), skip = Field(r, "skip"), take = Field(r, "take");
      const uint64_t size = Field(r, "size");
      const std::string where = "block " + std::to_string(blocks) + " (stream offset " + std::to_string(offset) + ")";
      if (size < format::kBlockHeaderSize || size > kBlockSizeMax) {
        return Status::Corruption(where + ": size=" + std::to_string(size) + " is not a block's size");
      }
      const size_t at = batch->stored.size();
      batch->stored.resize(at + size);
      BV_RETURN_IF_ERROR(ReadExactly(batch->stored.data() + at, size, where));
      auto h = format::DecodeBlockHeader(std::string_view(batch->stored).substr(at, format::kBlockHeaderSize));
      if (!h.ok()) return Status::Corruption(where + ": " + h.status().message());
      if (h->total_size() != size) return Status::Corruption(where + ": the header says " + std::to_string(h->total_size()) + " bytes");
      // The blocks must tile the range: each starts where the last ended, the first holds `begin`.
      const uint64_t want_skip = first ? begin - std::min(begin, offset) : 0;
      if (offset + want_skip != next || skip != want_skip || take == 0 || skip + take > h->raw_len ||
          (offset + skip + take != std::min<uint64_t>(end, offset + h->raw_len))) {
        return Status::Corruption(where + ": does not continue the stream at byte " + std::to_string(next));
      }
      first = false;
      next = offset + skip + take;
      batch->items.push_back(Block{*h, at, offset, static_cast<uint32_t>(skip), static_cast<uint32_t>(take), {}});
      batch->output += h->raw_len;
      blocks++;
      if (batch->output >= kBatchOutput) {
        BV_RETURN_IF_ERROR(Submit(std::move(batch)));
        batch = NewBatch();
      }
    }
    if (!batch->items.empty()) BV_RETURN_IF_ERROR(Submit(std::move(batch)));
    if (next != end) {
      return Status::Corruption("the blocks cover the stream up to byte " + std::to_string(next) + ", not " +
                                std::to_string(end));
    }
    return Status::Ok();
  }

  Status ReadExactly(char* dst, size_t n, const std::string& where) {
    size_t have = 0;
    while (have < n) {
      BV_ASSIGN_OR_RETURN(size_t got, client_->ReadBytes(dst + have, n - have));
      if (got == 0) {
        return Status::IOError(where + ": the connection ended after " + std::to_string(have) + " of its " +
                               std::to_string(n) + " bytes");
      }
      have += got;
    }
    return Status::Ok();
  }

  std::shared_ptr<Batch> NewBatch() { return std::make_shared<Batch>(plains_); }

  Status Submit(std::shared_ptr<Batch> b) {
    // The writer failed and says why; this only ends the reading.
    if (!window_.WaitForRoom()) return Status::IOError("the output stopped");
    Batch* raw = b.get();
    window_.Push(std::move(b), pool_.Submit([this, raw] { Decode(raw); }));
    return Status::Ok();
  }

  // On a worker.
  void Decode(Batch* b) const {
    size_t at = 0;  // in b->plain
    for (Block& k : b->items) {
      if (!engine::BlockCodec::StoredPlain(k.header) && b->plain == nullptr) b->plain = plains_->Take();
      std::string_view payload(b->stored.data() + k.at + format::kBlockHeaderSize, k.header.stored_len);
      auto chunk = codec_->DecodeChunk(k.header, payload, b->plain + at, body_check_);
      if (!chunk.ok()) {
        b->status =
            Status::Corruption("block at stream offset " + std::to_string(k.offset) + ": " + chunk.status().message());
        return;
      }
      k.chunk = *chunk;
      if (!engine::BlockCodec::StoredPlain(k.header)) at += k.header.raw_len;
    }
  }

  Client* client_;
  const engine::BlockCodec* codec_;
  engine::BodyCheck body_check_;
  engine::OutputSink* out_;
  engine::ThreadPool pool_;
  std::shared_ptr<engine::BufferRecycler> plains_;
  engine::BatchWindow<Batch> window_;  // after pool_: destroyed first, waiting for any decode
  uint64_t written_ = 0;
};

std::optional<std::array<uint8_t, 16>> ParseHash(const std::string* hex) {
  if (hex == nullptr) return std::nullopt;
  std::array<uint8_t, 16> h{};
  size_t len = 0;
  const char* end = nullptr;
  if (hex->size() != 2 * h.size() ||
      sodium_hex2bin(h.data(), h.size(), hex->data(), hex->size(), nullptr, &len, &end) != 0 || len != h.size()) {
    Fail(Status::Corruption("bvd sent a bad stream hash: " + *hex));
  }
  return h;
}

}  // namespace

int RemoteGetBlocks(const Common& c, const Remote& remote, const std::string& ref, const std::string& out_path,
                    const std::string& range, const std::string& stream, bool verify_only) {
  std::string key_file = c.key_file;
  if (key_file.empty() && std::getenv("BV_KEY_FILE") != nullptr) key_file = std::getenv("BV_KEY_FILE");
  if (key_file.empty()) {
    Fail(Status::InvalidArgument("--blocks checks and decodes here, with the appliance key: give --key-file or BV_KEY_FILE"));
  }
  const engine::Key master = Check(engine::LoadMasterKeyFile(io::SystemEnv(), key_file));
  auto client = Check(Client::Connect(remote));
  std::string line = "GET " + server::EscapeValue(ref) + " format=blocks";
  if (!stream.empty()) line += " stream=" + server::EscapeValue(stream);
  if (!range.empty()) line += " range=" + server::EscapeValue(range);
  Check(client->SendLine(line));
  server::Reply head = Check(client->ReadReply());
  const uint64_t begin = Field(head, "begin"), end = Field(head, "end");
  if (begin > end || end > Field(head, "length")) Fail(Status::Corruption("bvd sent a bad range"));
  const std::string* enc = head.Field("encrypted");
  const engine::VolumeKeys keys =
      engine::DeriveKeys(engine::DeriveTenantKey(master, remote.TenantName()), enc != nullptr && *enc == "true");
  const engine::BlockCodec codec(keys, 3);
  const auto hash = ParseHash(head.Field("hash"));

  const bool to_stdout = !verify_only && (out_path.empty() || out_path == "-");
  const std::string tmp = verify_only || to_stdout ? "" : out_path + ".bv-partial-" + std::to_string(::getpid());
  int fd = STDOUT_FILENO;
  if (!tmp.empty()) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) Fail(Status::FromErrno("create " + tmp, errno));
  }
  engine::FdSink file_sink(fd, to_stdout ? "standard output" : tmp);
  engine::NullSink null_sink;
  engine::OutputSink* sink = verify_only ? static_cast<engine::OutputSink*>(&null_sink) : &file_sink;
  Status s;
  {
    Progress progress(verify_only ? "verify" : "get", end - begin);
    // A verify checks every block's body_xxh3 besides its tag; a get lets the tag stand for it.
    BlockRestore restore(client.get(), &codec, verify_only ? engine::BodyCheck::kAlways : engine::BodyCheck::kWhenTagFails,
                         sink);
    s = restore.Run(begin, end, hash, keys.hash_key, &progress);
  }
  if (!tmp.empty()) {
    if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync " + tmp, errno);
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), out_path.c_str()) != 0) s = Status::FromErrno("rename to " + out_path, errno);
    if (!s.ok()) ::unlink(tmp.c_str());
  }
  Check(s);
  if (verify_only) {
    const std::string* id = head.Field("snapshot");
    std::printf("verified %s stream %llu: %llu bytes, every block checked here\n", id ? id->c_str() : "?",
                static_cast<unsigned long long>(Field(head, "stream")), static_cast<unsigned long long>(end - begin));
  }
  return 0;
}

}  // namespace bv::tool
