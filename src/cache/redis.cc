#include "cache/redis.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "common/log.h"
#include "common/strings.h"

namespace verso::cache {

struct RedisClient::Conn {
  redisContext* c = nullptr;
  ~Conn() {
    if (c != nullptr) redisFree(c);
  }
};

struct RedisClient::Reply {
  redisReply* r = nullptr;
  ~Reply() {
    if (r != nullptr) freeReplyObject(r);
  }
};

namespace {

timeval TimevalOf(absl::Duration d) { return absl::ToTimeval(d); }

// The token bucket, run atomically by Redis with its own clock (every process agrees on it).
constexpr const char* kTokenBucket = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local take = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(b[1]) or burst
local last = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  allowed = 1
  if take == 1 then tokens = tokens - 1 end
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
)lua";

// INCR with an expiry, atomically (a counter is never left without one).
constexpr const char* kIncrement = R"lua(
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
)lua";

std::string Millis(absl::Duration d) {
  return std::to_string(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Open(std::string_view url,
                                                               const RedisOptions& options,
                                                               const Clock* clock) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError("expected redis://[:password@]host[:port][/db]");
  }
  std::string_view rest = url.substr(kScheme.size());
  std::string password;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    if (size_t colon = auth.find(':'); colon != std::string_view::npos)
      auth.remove_prefix(colon + 1);
    password = std::string(auth);
    rest.remove_prefix(at + 1);
  }
  int db = 0;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view number = rest.substr(slash + 1);
    if (!number.empty()) {
      char* end = nullptr;
      const std::string n(number);
      db = static_cast<int>(std::strtol(n.c_str(), &end, 10));
      if (*end != '\0' || db < 0) {
        return absl::InvalidArgumentError(StrCat("\"", number, "\" is not a database number"));
      }
    }
    rest = rest.substr(0, slash);
  }
  int port = 6379;
  std::string host(rest);
  if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = std::string(rest.substr(0, colon));
    const std::string p(rest.substr(colon + 1));
    char* end = nullptr;
    port = static_cast<int>(std::strtol(p.c_str(), &end, 10));
    if (p.empty() || *end != '\0' || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(StrCat("\"", p, "\" is not a port"));
    }
  }
  if (host.empty()) return absl::InvalidArgumentError("no host");
  return std::unique_ptr<RedisClient>(new RedisClient(host, port, password, db, options, clock));
}

RedisClient::RedisClient(std::string host, int port, std::string password, int db,
                         const RedisOptions& options, const Clock* clock)
    : host_(std::move(host)),
      port_(port),
      password_(std::move(password)),
      db_(db),
      address_(StrCat(host_, ":", port_)),
      options_(options),
      breaker_(options.breaker, clock) {}

RedisClient::~RedisClient() { Unsubscribe(); }

void RedisClient::Unsubscribe() {
  stop_ = true;
  for (std::thread& t : subscribers_) {
    if (t.joinable()) t.join();
  }
}

absl::StatusOr<std::unique_ptr<RedisClient::Conn>> RedisClient::Connect(
    absl::Duration read_timeout) {
  auto conn = std::make_unique<Conn>();
  conn->c = redisConnectWithTimeout(host_.c_str(), port_, TimevalOf(options_.connect_timeout));
  if (conn->c == nullptr || conn->c->err != 0) {
    return absl::UnavailableError(
        StrCat("Redis at ", address_, ": ", conn->c ? conn->c->errstr : "out of memory"));
  }
  redisSetTimeout(conn->c, TimevalOf(read_timeout));
  auto ok = [&](redisReply* r) {
    Reply reply{r};
    return r != nullptr && r->type != REDIS_REPLY_ERROR;
  };
  if (!password_.empty() && !ok(static_cast<redisReply*>(redisCommand(
                                conn->c, "AUTH %b", password_.data(), password_.size())))) {
    return absl::UnavailableError(StrCat("Redis at ", address_, ": AUTH failed"));
  }
  if (db_ != 0 && !ok(static_cast<redisReply*>(redisCommand(conn->c, "SELECT %d", db_)))) {
    return absl::UnavailableError(StrCat("Redis at ", address_, ": SELECT failed"));
  }
  return conn;
}

std::unique_ptr<RedisClient::Conn> RedisClient::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  auto conn = Connect(options_.command_timeout);
  return conn.ok() ? std::move(*conn) : nullptr;
}

void RedisClient::Release(std::unique_ptr<Conn> conn) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.connections) idle_.push_back(std::move(conn));
}

std::unique_ptr<RedisClient::Reply> RedisClient::Command(
    const std::vector<std::string_view>& argv) {
  if (!breaker_.Allow()) {
    ++bypassed_;
    return nullptr;
  }
  std::unique_ptr<Conn> conn = Acquire();
  std::unique_ptr<Reply> reply;
  if (conn != nullptr) {
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    for (std::string_view a : argv) {
      args.push_back(a.data());
      lengths.push_back(a.size());
    }
    reply = std::make_unique<Reply>();
    reply->r = static_cast<redisReply*>(
        redisCommandArgv(conn->c, static_cast<int>(args.size()), args.data(), lengths.data()));
  }
  // A connection error or timeout leaves the connection unusable: it is dropped.
  if (reply == nullptr || reply->r == nullptr || reply->r->type == REDIS_REPLY_ERROR) {
    ++errors_;
    breaker_.RecordFailure();
    if (reply != nullptr && reply->r != nullptr && conn != nullptr) Release(std::move(conn));
    return nullptr;
  }
  breaker_.RecordSuccess();
  Release(std::move(conn));
  return reply;
}

std::optional<std::string> RedisClient::Get(std::string_view key) {
  auto reply = Command({"GET", key});
  if (reply == nullptr || reply->r->type != REDIS_REPLY_STRING) {
    if (reply != nullptr) ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return std::string(reply->r->str, reply->r->len);
}

void RedisClient::Set(std::string_view key, std::string_view value, absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) {
    Command({"SET", key, value});
    return;
  }
  Command({"SET", key, value, "PX", Millis(ttl)});
}

void RedisClient::Del(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  std::vector<std::string_view> argv = {"DEL"};
  for (const std::string& k : keys) argv.push_back(k);
  Command(argv);
}

std::optional<std::vector<std::optional<std::string>>> RedisClient::MGet(
    const std::vector<std::string_view>& keys) {
  std::vector<std::string_view> argv = {"MGET"};
  argv.insert(argv.end(), keys.begin(), keys.end());
  auto reply = Command(argv);
  if (reply == nullptr || reply->r->type != REDIS_REPLY_ARRAY ||
      reply->r->elements != keys.size()) {
    return std::nullopt;
  }
  std::vector<std::optional<std::string>> out;
  for (size_t i = 0; i < reply->r->elements; ++i) {
    const redisReply* e = reply->r->element[i];
    if (e->type == REDIS_REPLY_STRING) {
      out.emplace_back(std::string(e->str, e->len));
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  return out;
}

bool RedisClient::Increment(std::string_view key, absl::Duration ttl) {
  auto reply = Command({"EVAL", kIncrement, "1", key, Millis(ttl)});
  return reply != nullptr && reply->r->type == REDIS_REPLY_INTEGER;
}

int64_t RedisClient::ScanDelete(std::string_view pattern, int count, int max_rounds) {
  std::string cursor = "0";
  const std::string count_text = std::to_string(count);
  int64_t deleted = 0;
  for (int round = 0; round < max_rounds; ++round) {
    auto reply = Command({"SCAN", cursor, "MATCH", pattern, "COUNT", count_text});
    if (reply == nullptr || reply->r->type != REDIS_REPLY_ARRAY || reply->r->elements != 2) break;
    cursor.assign(reply->r->element[0]->str, reply->r->element[0]->len);
    std::vector<std::string> keys;
    const redisReply* found = reply->r->element[1];
    for (size_t i = 0; i < found->elements; ++i) {
      keys.emplace_back(found->element[i]->str, found->element[i]->len);
    }
    Del(keys);
    deleted += static_cast<int64_t>(keys.size());
    if (cursor == "0") break;
  }
  return deleted;
}

void RedisClient::Publish(std::string_view channel, std::string_view message) {
  Command({"PUBLISH", channel, message});
}

void InvalidateTmStore(RedisClient& redis, std::string_view store_id) {
  redis.ScanDelete(StrCat("tm:", store_id, ":*"), 100, 10);
  redis.ScanDelete(StrCat("tm_fuzzy:", store_id, ":*"), 100, 10);
  redis.Publish(kTmInvalidationChannel, store_id);
}

std::optional<bool> RedisClient::TakeToken(std::string_view key, double rate, double burst,
                                           bool take, absl::Duration* retry_after) {
  const std::string r = std::to_string(rate), b = std::to_string(burst);
  auto reply = Command({"EVAL", kTokenBucket, "1", key, r, b, take ? "1" : "0"});
  if (reply == nullptr || reply->r->type != REDIS_REPLY_ARRAY || reply->r->elements != 2) {
    return std::nullopt;
  }
  const bool allowed = reply->r->element[0]->integer == 1;
  if (!allowed && retry_after != nullptr) {
    *retry_after = absl::Seconds(std::strtod(reply->r->element[1]->str, nullptr));
  }
  return allowed;
}

void RedisClient::Subscribe(std::string_view channel, std::function<void(std::string_view)> fn) {
  subscribers_.emplace_back(
      [this, channel = std::string(channel), fn = std::move(fn)] { SubscribeLoop(channel, fn); });
}

void RedisClient::SubscribeLoop(std::string channel, std::function<void(std::string_view)> fn) {
  while (!stop_) {
    // No read timeout: the loop polls the socket, so an idle subscription is not an error.
    auto conn = Connect(absl::ZeroDuration());
    if (!conn.ok()) {
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    redisContext* c = (*conn)->c;
    Reply subscribed{
        static_cast<redisReply*>(redisCommand(c, "SUBSCRIBE %b", channel.data(), channel.size()))};
    if (subscribed.r == nullptr) continue;
    while (!stop_) {
      pollfd p{c->fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 200);
      if (ready < 0) break;
      if (ready == 0) continue;
      if (redisBufferRead(c) != REDIS_OK) break;  // Redis went away: subscribe again
      void* raw = nullptr;
      bool broken = false;
      while (redisGetReplyFromReader(c, &raw) == REDIS_OK && raw != nullptr) {
        Reply message{static_cast<redisReply*>(raw)};
        raw = nullptr;
        const redisReply* r = message.r;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            std::string_view(r->element[0]->str, r->element[0]->len) == "message") {
          fn(std::string_view(r->element[2]->str, r->element[2]->len));
        }
      }
      if (c->err != 0) broken = true;
      if (broken) break;
    }
  }
}

VersionedCache::VersionedCache(RedisClient* redis, std::string prefix, absl::Duration ttl,
                               absl::Duration counter_ttl)
    : redis_(redis),
      prefix_(std::move(prefix)),
      ttl_(ttl),
      counter_ttl_(std::max(counter_ttl, 2 * ttl)) {}

std::string VersionedCache::EntryKey(std::string_view id) const {
  return StrCat(prefix_, ":e:", id);
}
std::string VersionedCache::CounterKey(std::string_view id) const {
  return StrCat(prefix_, ":v:", id);
}

// An entry is "VERSION\nVALUE"; a missing counter is version "0".
std::optional<VersionedCache::Read> VersionedCache::Get(std::string_view id) {
  const std::string entry_key = EntryKey(id), counter_key = CounterKey(id);
  auto got = redis_->MGet({entry_key, counter_key});
  if (!got.has_value()) return std::nullopt;
  Read read;
  read.version = (*got)[1].value_or("0");
  if (const std::optional<std::string>& entry = (*got)[0]; entry.has_value()) {
    const size_t nl = entry->find('\n');
    if (nl != std::string::npos && std::string_view(*entry).substr(0, nl) == read.version) {
      read.value = entry->substr(nl + 1);
    }
  }
  ++(read.value.has_value() ? hits_ : misses_);
  return read;
}

void VersionedCache::Put(std::string_view id, std::string_view version, std::string_view value) {
  redis_->Set(EntryKey(id), StrCat(version, "\n", value), ttl_);
}

void VersionedCache::Changed(std::string_view id) {
  ++changes_;
  redis_->Increment(CounterKey(id), counter_ttl_);
}

RedisStats RedisClient::Stats() {
  return {hits_.load(), misses_.load(), errors_.load(), bypassed_.load(), breaker_.state()};
}

}  // namespace verso::cache
