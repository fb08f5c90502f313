// prepare_pt2e / prepare_qat_pt2e, ported from torchao/quantization/pt2e/prepare.py:
//  1. every annotated input edge and node output becomes a key with its spec;
//  2. union-find groups the keys: SharedQuantizationSpec links, plus PyTorch's implicit
//     sharing (an input edge whose root spec matches the producer's output spec, or another
//     user's edge spec, is the same tensor and gets the same observer);
//  3. one ObservedPlace (observer / fake quant) per group, derived specs last;
//  4. observe / fake_quantize nodes are inserted per node, inputs first, reusing an inserted
//     node of the same place when the tensor already has one.
#include "quantkit/pt2e/prepare.h"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/pt2e/fold_batch_norm.h"
#include "quantkit/pt2e/qat_conv_bn.h"

namespace quantkit::pt2e {

using graph::Attribute;
using graph::AttributeMap;
using graph::OpKind;

namespace {

// An EdgeOrNode made orderable: an edge (value, user) or a node's output (node).
struct Key {
  const Value* value = nullptr;
  const Node* user = nullptr;
  const Node* output_of = nullptr;
  auto tie() const { return std::tie(value, user, output_of); }
  bool operator<(const Key& o) const { return tie() < o.tie(); }
  bool operator==(const Key& o) const { return tie() == o.tie(); }
  static Key of(const EdgeOrNode& e) {
    if (const auto* edge = std::get_if<Edge>(&e)) return Key{edge->value, edge->user, nullptr};
    return Key{nullptr, nullptr, std::get<const Node*>(e)};
  }
  std::string describe() const {
    if (output_of != nullptr) return pt2e::describe(EdgeOrNode{output_of});
    return pt2e::describe(EdgeOrNode{Edge{value, user}});
  }
};

// The attributes PyTorch's _has_same_attr compares, absent where a spec kind has none.
struct SpecAttrs {
  std::optional<DType> dtype;
  std::optional<bool> is_dynamic;
  std::optional<std::int64_t> quant_min, quant_max;
  std::optional<QScheme> qscheme;
  std::optional<std::int64_t> ch_axis;
  std::optional<double> scale;
  std::optional<std::int64_t> zero_point;
  std::optional<ApotSpec> apot;
  std::optional<bool> per_token;
  std::optional<std::int64_t> group_size;
  friend bool operator==(const SpecAttrs&, const SpecAttrs&) = default;
};

SpecAttrs attrs_of(const QuantizationSpecBase& spec) {
  SpecAttrs a;
  if (const auto* s = std::get_if<QuantizationSpec>(&spec)) {
    a.dtype = s->dtype;
    a.is_dynamic = s->is_dynamic;
    a.quant_min = s->quant_min;
    a.quant_max = s->quant_max;
    a.qscheme = s->qscheme;
    a.ch_axis = s->ch_axis;
    a.apot = s->apot;
    a.per_token = s->per_token;
    a.group_size = s->group_size;
  } else if (const auto* d = std::get_if<DerivedQuantizationSpec>(&spec)) {
    a.dtype = d->dtype;
    a.quant_min = d->quant_min;
    a.quant_max = d->quant_max;
    a.qscheme = d->qscheme;
    a.ch_axis = d->ch_axis;
  } else if (const auto* f = std::get_if<FixedQParamsQuantizationSpec>(&spec)) {
    a.dtype = f->dtype;
    a.quant_min = f->quant_min;
    a.quant_max = f->quant_max;
    a.qscheme = f->qscheme;
    a.scale = f->scale;
    a.zero_point = f->zero_point;
  }
  return a;
}

bool is_float_spec(const QuantizationSpecBase& spec) {
  const auto* s = std::get_if<QuantizationSpec>(&spec);
  return s != nullptr && !s->apot && is_floating(s->dtype);
}

class Preparer {
 public:
  Preparer(Graph& g, const Annotations& annotations, bool is_qat, const char* where)
      : g_(g), annotations_(annotations), is_qat_(is_qat), where_(where) {}

  PreparedModel run() {
    collect_keys();
    group_keys();
    create_places();
    insert_nodes();
    graph::verify(g_);
    std::set<std::string> annotated;
    for (const auto& [node, a] : annotations_) {
      if (!a.input_qspec_map.empty() || a.output_qspec) annotated.insert(node->name());
    }
    return PreparedModel(std::move(g_), std::move(places_), is_qat_, std::move(annotated));
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(std::string(where_) + ": " + message);
  }

  // ---- 1. keys in PyTorch's order: nodes in order; per node its input edges (in input
  // order), then its output ----
  void check_observable(const Value* v, const QuantizationSpecBase& spec,
                        const std::string& what) const {
    if (is_float_spec(spec) || std::holds_alternative<SharedQuantizationSpec>(spec)) return;
    if (v->dtype() != DType::Float32) {
      fail(what + " is " + std::string(dtype_name(v->dtype())) +
           ": only float32 values can be observed (spec: " + describe(spec) + ")");
    }
    const auto* s = std::get_if<QuantizationSpec>(&spec);
    if (s != nullptr && s->apot && !v->has_data()) {
      fail(what +
           " has an APoT spec but is not a parameter or constant: APoT specs are for "
           "weights only");
    }
  }

  void collect_keys() {
    for (const auto& [node, a] : annotations_) {
      if (node == nullptr || !g_.contains(node)) {
        fail("the quantizer annotated a node that is not in the graph" +
             std::string(node ? " ('" + node->name() + "')" : ""));
      }
      for (const auto& [v, spec] : a.input_qspec_map) {
        bool is_input = false;
        for (const Value* in : node->inputs()) is_input = is_input || in == v;
        if (!is_input) {
          fail("annotation of node '" + node->name() + "' has an input spec for " +
               (v ? "'" + v->name() + "'" : std::string("null")) +
               ", which is not an input of that node");
        }
      }
      if (a.output_qspec && node->num_outputs() != 1) {
        fail("node '" + node->name() + "' has " + std::to_string(node->num_outputs()) +
             " outputs: only single-output nodes can have an output spec");
      }
    }
    for (const Node* node : g_.nodes()) {
      auto it = annotations_.find(node);
      if (it == annotations_.end()) continue;
      const QuantizationAnnotation& a = it->second;
      std::set<const Value*> seen;
      for (const Value* v : node->inputs()) {
        auto spec = a.input_qspec_map.find(v);
        if (spec == a.input_qspec_map.end() || !seen.insert(v).second) continue;
        check_observable(v, spec->second,
                         "input '" + v->name() + "' of node '" + node->name() + "'");
        add_key(Key{v, node, nullptr}, spec->second);
      }
      if (a.output_qspec) {
        check_observable(node->output(), *a.output_qspec, "output of node '" + node->name() + "'");
        add_key(Key{nullptr, nullptr, node}, *a.output_qspec);
      }
    }
  }

  void add_key(const Key& key, const QuantizationSpecBase& spec) {
    index_.emplace(key, keys_.size());
    keys_.push_back(key);
    specs_.push_back(spec);
  }

  std::size_t index_of(const Key& key, const char* why) const {
    auto it = index_.find(key);
    if (it == index_.end()) {
      fail(std::string(why) + " refers to " + key.describe() +
           ", which has no annotation (share or derive only from annotated edges / outputs)");
    }
    return it->second;
  }

  // ---- 2. union-find (prepare.py's _get_edge_or_node_to_group_id) ----
  std::size_t find(std::size_t i) {
    std::size_t root = i;
    while (parent_[root] != root) root = parent_[root];
    while (parent_[i] != root) {  // path compression
      const std::size_t next = parent_[i];
      parent_[i] = root;
      i = next;
    }
    return root;
  }

  void unite(std::size_t parent, std::size_t child) {
    const std::size_t rp = find(parent);
    const std::size_t rc = find(child);
    if (rp == rc) return;
    const auto* shared = std::get_if<SharedQuantizationSpec>(&specs_[rp]);
    if (shared != nullptr && Key::of(shared->edge_or_node) == keys_[rc]) {
      parent_[rp] = rc;  // the parent already points at the child: reverse to avoid a cycle
    } else {
      parent_[rc] = rp;
    }
  }

  const QuantizationSpecBase& unwrap(const QuantizationSpecBase& spec) {
    const QuantizationSpecBase* s = &spec;
    for (std::size_t steps = 0; steps <= keys_.size(); ++steps) {
      const auto* shared = std::get_if<SharedQuantizationSpec>(s);
      if (shared == nullptr) return *s;
      s = &specs_[find(index_of(Key::of(shared->edge_or_node), "a SharedQuantizationSpec"))];
    }
    fail("SharedQuantizationSpecs form a cycle without a concrete spec");
  }

  void unite_if_same(std::size_t input_edge, const SpecAttrs& edge_root, const Key& other) {
    auto it = index_.find(other);
    if (it == index_.end()) return;
    if (attrs_of(unwrap(specs_[it->second])) == edge_root) unite(it->second, input_edge);
  }

  void group_keys() {
    parent_.resize(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i) parent_[i] = i;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const Key key = keys_[i];
      if (key.output_of == nullptr) {
        const SpecAttrs root = attrs_of(unwrap(specs_[i]));
        if (annotations_.at(key.user).allow_implicit_sharing) {
          // Other users' edges first, then the producer's output (prepare.py's order).
          std::vector<const Node*> users;
          for (const graph::Use& u : g_.uses(key.value)) {
            if (u.node != key.user &&
                std::find(users.begin(), users.end(), u.node) == users.end()) {
              users.push_back(u.node);
            }
          }
          for (const Node* user : users) unite_if_same(i, root, Key{key.value, user, nullptr});
          if (const Node* producer = key.value->producer()) {
            unite_if_same(i, root, Key{nullptr, nullptr, producer});
          }
        }
      }
      if (const auto* shared = std::get_if<SharedQuantizationSpec>(&specs_[i])) {
        unite(index_of(Key::of(shared->edge_or_node), "a SharedQuantizationSpec"), i);
      }
    }
  }

  // ---- 3. one place per group ----
  std::string make_place(const QuantizationSpecBase& spec) {
    ObservedPlace place;
    place.spec = spec;
    if (const auto* s = std::get_if<QuantizationSpec>(&spec)) {
      if (s->apot) {
        place.apot =
            std::make_unique<apot::ApotObserver>(s->apot->b, s->apot->k, s->apot->level_set);
      } else if (is_floating(s->dtype)) {
        return {};  // "leave in float": nothing to observe
      } else {
        auto observer = s->make_observer();
        if (s->fake_quant) {
          place.fake_quant = std::make_unique<FakeQuantize>(std::move(observer));
        } else {
          place.observer = std::move(observer);
        }
      }
    } else if (const auto* f = std::get_if<FixedQParamsQuantizationSpec>(&spec)) {
      ObserverOptions o;
      o.dtype = f->dtype;
      o.qscheme = f->qscheme;
      o.quant_min = f->quant_min;
      o.quant_max = f->quant_max;
      o.fixed_scale = f->scale;
      o.fixed_zero_point = f->zero_point;
      auto observer = make_observer("fixed-qparams", o);
      if (is_qat_ || f->fake_quant) {
        place.fake_quant = std::make_unique<FakeQuantize>(std::move(observer));
      } else {
        place.observer = std::move(observer);
      }
    }
    const std::string name = "activation_post_process_" + std::to_string(places_.size());
    places_.emplace(name, std::move(place));
    return name;
  }

  void create_places() {
    group_place_.assign(keys_.size(), std::string());
    std::vector<bool> created(keys_.size(), false);
    // Derived specs read other groups' places: create them last.
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t i = 0; i < keys_.size(); ++i) {
        const std::size_t root = find(i);
        if (created[root]) continue;
        const QuantizationSpecBase& spec = unwrap(specs_[i]);
        const auto* derived = std::get_if<DerivedQuantizationSpec>(&spec);
        if ((derived != nullptr) != (pass == 1)) continue;
        created[root] = true;
        group_place_[root] = make_place(spec);
        if (derived != nullptr) {
          if (!derived->derive_qparams) fail("DerivedQuantizationSpec without derive_qparams");
          ObservedPlace& place = places_.at(group_place_[root]);
          for (const EdgeOrNode& from : derived->derived_from) {
            const std::string& source =
                group_place_[find(index_of(Key::of(from), "a DerivedQuantizationSpec"))];
            if (source.empty()) fail("a DerivedQuantizationSpec derives from a float place");
            place.derived_from.push_back(source);
          }
        }
      }
    }
  }

  const std::string& place_of(const Key& key) { return group_place_[find(index_.at(key))]; }

  // ---- 4. insertion ----
  Node* insert_observer(Value* x, const std::string& place_name, const Node* before) {
    const ObservedPlace& place = places_.at(place_name);
    const QuantizationSpec* s = std::get_if<QuantizationSpec>(&place.spec);
    const bool fake = place.fake_quant != nullptr || (place.apot && s != nullptr && s->fake_quant);
    AttributeMap attrs;
    attrs.emplace(fake ? "module" : "observer", Attribute(place_name));
    const OpKind op = fake ? OpKind::FakeQuantize : OpKind::Observe;
    Node* n = x->producer() != nullptr
                  ? g_.insert_node_after(x->producer(), op, {x}, attrs, place_name)
                  : g_.insert_node_before(before, op, {x}, attrs, place_name);
    inserted_.insert(n);
    inserted_place_[n] = place_name;
    return n;
  }

  void insert_nodes() {
    const std::vector<Node*> original = g_.nodes();
    for (Node* node : original) {
      auto it = annotations_.find(node);
      if (it == annotations_.end()) continue;
      for (std::size_t i = 0; i < node->num_inputs(); ++i) {
        Value* arg = node->input(i);
        const Value* original_arg = arg;
        while (original_arg->producer() != nullptr &&
               inserted_.contains(original_arg->producer())) {
          original_arg = original_arg->producer()->input(0);
        }
        const Key edge{original_arg, node, nullptr};
        if (!index_.contains(edge)) continue;
        const std::string& place = place_of(edge);
        if (place.empty()) continue;
        if (const Node* producer = original_arg->producer()) {
          const Key out{nullptr, nullptr, producer};
          if (index_.contains(out) && place_of(out) == place) continue;  // already observed
        }
        Value* observed = nullptr;
        for (const graph::Use& u : g_.uses(arg)) {
          auto p = inserted_place_.find(u.node);
          if (p != inserted_place_.end() && p->second == place) observed = u.node->output();
        }
        if (observed == nullptr) observed = insert_observer(arg, place, node)->output();
        node->set_input(i, observed);
      }
      const Key out{nullptr, nullptr, node};
      if (index_.contains(out) && !place_of(out).empty()) {
        Node* obs = insert_observer(node->output(), place_of(out), node);
        g_.replace_all_uses_except(node->output(), obs->output(), obs);
      }
    }
  }

  Graph& g_;
  const Annotations& annotations_;
  bool is_qat_;
  const char* where_;
  std::vector<Key> keys_;
  std::vector<QuantizationSpecBase> specs_;
  std::map<Key, std::size_t> index_;
  std::vector<std::size_t> parent_;
  std::vector<std::string> group_place_;
  std::map<std::string, ObservedPlace> places_;
  std::unordered_set<const Node*> inserted_;
  std::map<const Node*, std::string> inserted_place_;
};

PreparedModel prepare_impl(const Graph& model, const Quantizer& quantizer, bool is_qat,
                           const char* where) {
  graph::verify(model);
  for (const Node* n : model.nodes()) {
    if (n->op() == OpKind::Observe || n->op() == OpKind::FakeQuantize) {
      throw Error(std::string(where) + ": the graph is already prepared (node '" + n->name() +
                  "' is " + std::string(graph::op_name(n->op())) +
                  "); prepare the original fp32 graph instead");
    }
  }
  Graph g = model.clone();
  // PTQ folds batch norm into the conv; QAT keeps it, in torchao's trainable conv-bn form.
  if (is_qat) {
    rewrite_conv_bn_for_qat(g);
  } else {
    fold_batch_norm(g);
  }
  const Annotations annotations = quantizer.annotate(g);
  quantizer.validate(g, annotations);
  return Preparer(g, annotations, is_qat, where).run();
}

}  // namespace

PreparedModel prepare_pt2e(const Graph& model, const Quantizer& quantizer) {
  return prepare_impl(model, quantizer, false, "prepare_pt2e");
}

PreparedModel prepare_qat_pt2e(const Graph& model, const Quantizer& quantizer) {
  return prepare_impl(model, quantizer, true, "prepare_qat_pt2e");
}

}  // namespace quantkit::pt2e
