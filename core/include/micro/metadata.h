// Header maps. Go canonicalises HTTP header names (Micro-Id, micro-id and MICRO-ID are one key),
// so every header and metadata map in micro-cpp compares names without regard to ASCII case.
#pragma once

#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace micro {

/// Orders strings by ASCII case-insensitive comparison. Transparent: finds by string_view.
/// Inline and fast on the common case: names are compared byte by byte and case is folded only
/// where two bytes differ. Every header map operation runs it several times per call.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    const std::size_t n = a.size() < b.size() ? a.size() : b.size();
    const char* p = a.data();
    const char* q = b.data();
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] == q[i]) continue;
      const unsigned char x = fold(p[i]), y = fold(q[i]);
      if (x != y) return x < y;
    }
    return a.size() < b.size();
  }

 private:
  static constexpr unsigned char fold(char c) noexcept {
    return static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  }
};

/// Header or metadata map: case-insensitive keys, values as sent, one value per name.
///
/// The std::map subset the framework and its users need, over one sorted vector: a call's
/// headers (about ten short names) live in one allocation instead of ten tree nodes, copies
/// are one block, and lookups are a binary search. Iteration is in name order, as with
/// std::map<std::string, std::string, CaseInsensitiveLess>. Differences from std::map:
/// inserting or erasing invalidates iterators and references, and an iterator's `first`
/// must not be modified (it would break the order). Threads: a value type, like std::map: const
/// use from several threads is safe, any change needs the caller's own synchronisation.
/// Failure: only allocation (std::bad_alloc) and at() on a missing name (std::out_of_range).
class Metadata {
 public:
  using key_type = std::string;
  using mapped_type = std::string;
  using value_type = std::pair<std::string, std::string>;
  using key_compare = CaseInsensitiveLess;
  using size_type = std::size_t;
  using container_type = std::vector<value_type>;
  using iterator = container_type::iterator;
  using const_iterator = container_type::const_iterator;

  Metadata() = default;
  /// From pairs; the first of two equal names wins, as with std::map.
  Metadata(std::initializer_list<value_type> pairs) {
    v_.reserve(pairs.size());
    for (const auto& p : pairs) emplace(p.first, p.second);
  }
  template <class It>
  Metadata(It first, It last) {
    for (; first != last; ++first) emplace(first->first, first->second);
  }

  iterator begin() noexcept { return v_.begin(); }
  iterator end() noexcept { return v_.end(); }
  const_iterator begin() const noexcept { return v_.begin(); }
  const_iterator end() const noexcept { return v_.end(); }
  const_iterator cbegin() const noexcept { return v_.cbegin(); }
  const_iterator cend() const noexcept { return v_.cend(); }
  size_type size() const noexcept { return v_.size(); }
  bool empty() const noexcept { return v_.empty(); }
  void clear() noexcept { v_.clear(); }
  void reserve(size_type n) { v_.reserve(n); }

  iterator lower_bound(std::string_view k) { return v_.begin() + lower_index(k); }
  const_iterator lower_bound(std::string_view k) const { return v_.begin() + lower_index(k); }
  iterator find(std::string_view k) {
    auto it = lower_bound(k);
    return it != v_.end() && !less_(k, it->first) ? it : v_.end();
  }
  const_iterator find(std::string_view k) const {
    auto it = lower_bound(k);
    return it != v_.end() && !less_(k, it->first) ? it : v_.end();
  }
  size_type count(std::string_view k) const { return find(k) != end() ? 1 : 0; }
  bool contains(std::string_view k) const { return find(k) != end(); }

  /// Inserts (k, v) unless k is present; returns the entry and whether it was inserted.
  template <class K, class... V>
  requires std::is_convertible_v<const K&, std::string_view> std::pair<iterator, bool> try_emplace(
      K&& k, V&&... v) {
    return try_emplace_at(lower_bound(std::string_view(k)), std::forward<K>(k),
                          std::forward<V>(v)...);
  }
  /// As above, O(1) when hint is where k goes (appending names in order, say).
  template <class K, class... V>
  iterator try_emplace(const_iterator hint, K&& k, V&&... v) {
    return try_emplace_at(position(hint, std::string_view(k)), std::forward<K>(k),
                          std::forward<V>(v)...)
        .first;
  }
  template <class K, class V>
  std::pair<iterator, bool> emplace(K&& k, V&& v) {
    return try_emplace(std::forward<K>(k), std::forward<V>(v));
  }
  std::pair<iterator, bool> insert(value_type p) {
    return try_emplace(std::move(p.first), std::move(p.second));
  }

  /// Sets k to v, inserting it when absent; returns the entry and whether it was inserted.
  template <class K, class V>
  std::pair<iterator, bool> insert_or_assign(K&& k, V&& v) {
    return assign_at(lower_bound(std::string_view(k)), std::forward<K>(k), std::forward<V>(v));
  }
  template <class K, class V>
  iterator insert_or_assign(const_iterator hint, K&& k, V&& v) {
    return assign_at(position(hint, std::string_view(k)), std::forward<K>(k), std::forward<V>(v))
        .first;
  }

  std::string& operator[](std::string_view k) { return try_emplace(std::string(k)).first->second; }
  std::string& at(std::string_view k) {
    auto it = find(k);
    if (it == end()) throw std::out_of_range("micro::Metadata::at: no " + std::string(k));
    return it->second;
  }
  const std::string& at(std::string_view k) const {
    auto it = find(k);
    if (it == end()) throw std::out_of_range("micro::Metadata::at: no " + std::string(k));
    return it->second;
  }

  size_type erase(std::string_view k) {
    auto it = find(k);
    if (it == end()) return 0;
    v_.erase(it);
    return 1;
  }
  iterator erase(const_iterator it) { return v_.erase(it); }

  friend bool operator==(const Metadata& a, const Metadata& b) { return a.v_ == b.v_; }

 private:
  size_type lower_index(std::string_view k) const {
    size_type lo = 0, hi = v_.size();
    while (lo < hi) {
      const size_type mid = (lo + hi) / 2;
      if (less_(v_[mid].first, k))
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  // Where k goes: hint itself when it is right (k after the entry before hint, not after hint).
  iterator position(const_iterator hint, std::string_view k) {
    const bool after_prev = hint == v_.cbegin() || less_(std::prev(hint)->first, k);
    const bool before_hint = hint == v_.cend() || !less_(hint->first, k);
    if (after_prev && before_hint) return v_.begin() + (hint - v_.cbegin());
    return lower_bound(k);
  }
  template <class K, class... V>
  std::pair<iterator, bool> try_emplace_at(iterator at, K&& k, V&&... v) {
    if (at != v_.end() && !less_(std::string_view(k), at->first)) return {at, false};
    if (v_.capacity() == 0) {  // reserving moves the storage: at is re-made from its index
      const auto index = at - v_.begin();
      v_.reserve(kInitialCapacity);
      at = v_.begin() + index;
    }
    return {v_.emplace(at, std::piecewise_construct, std::forward_as_tuple(std::forward<K>(k)),
                       std::forward_as_tuple(std::forward<V>(v)...)),
            true};
  }
  template <class K, class V>
  std::pair<iterator, bool> assign_at(iterator at, K&& k, V&& v) {
    if (at != v_.end() && !less_(std::string_view(k), at->first)) {
      at->second = std::forward<V>(v);
      return {at, false};
    }
    return try_emplace_at(at, std::forward<K>(k), std::forward<V>(v));
  }

  static constexpr size_type kInitialCapacity = 12;  // a mucp call carries about ten headers
  [[no_unique_address]] CaseInsensitiveLess less_;
  container_type v_;
};

/// Go's canonical MIME header form: "micro-id" -> "Micro-Id".
std::string canonical_header(std::string_view name);

/// The value for key, or "" when absent.
inline std::string_view get(const Metadata& md, std::string_view key) {
  auto it = md.find(key);
  return it == md.end() ? std::string_view{} : std::string_view{it->second};
}

}  // namespace micro
