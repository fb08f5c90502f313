#pragma once
// QatModule: a prepare_qat_pt2e graph (pt2e::PreparedModel) as a trainable LibTorch module,
// so that a C++ program can run quantization-aware training on it with torch::optim and then
// hand the trained model to convert_pt2e:
//
//   pt2e::PreparedModel prepared = pt2e::prepare_qat_pt2e(fp32_graph, quantizer);
//   torch::QatModule model(prepared);
//   ::torch::optim::Adam opt(model.parameters(), 1e-3);
//   for (...) { opt.zero_grad(); loss(model.forward(x), y).backward(); opt.step(); }
//   model.write_back();                       // trained weights / BN statistics -> prepared
//   graph::Graph qdq = pt2e::convert_pt2e(prepared);
//
// forward() walks the graph once per call and maps every node to a LibTorch op (an autograd
// graph; docs/torch.md "Training a prepared graph" lists the op table); fake_quantize nodes
// run the prepared model's own FakeQuantize / APoT places through quantkit's autograd
// functions (fake_quantize_functions.h), so the observer state convert_pt2e reads is the
// state training produced.
//
// What is trainable: every Parameter value of the graph (Graph::parameters(): weights, biases,
// batch-norm and layer-norm affine, multi-element initializers of an ONNX import) that is
// float32, except batch_norm's running_mean / running_var, which are buffers (updated in train
// mode, never leaves). Constants (anonymous tensors: 0-d operands, folded weights) are fixed.
// Parameters and buffers are copies; write_back() copies them back into `prepared`.
//
// Inputs: float32 CPU tensors with the graph inputs' ranks and non-batch dims; dim 0 may differ
// from the graph's (training batches), as long as no op pins it (a reshape to a fixed batch is
// then an Error naming the node). Determinism: the constructor sets LibTorch's intra-op thread
// count to 1 (at::set_num_threads(1), process-wide), since ATen's reductions split by thread
// count; quantkit's fake-quant kernels are thread-count independent anyway. Seeds are the
// caller's.
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace quantkit::pt2e {
class PreparedModel;
}

namespace quantkit::torch {

class QatModule {
 public:
  // Borrows `prepared` (it must outlive this module). Throws quantkit::Error when the graph
  // has an op this module cannot run (quantize / dequantize, fused integer ops, ...), naming
  // the op and the node.
  explicit QatModule(pt2e::PreparedModel& prepared);
  QatModule(const QatModule&) = delete;
  QatModule& operator=(const QatModule&) = delete;
  QatModule(QatModule&&) noexcept;
  QatModule& operator=(QatModule&&) noexcept;
  ~QatModule();

  // The trainable leaves (requires_grad), in Graph::parameters() order, for torch::optim.
  std::vector<at::Tensor> parameters() const;
  // The same leaves with their graph names ("conv1.weight"), like torch's named_parameters().
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  // One tensor per graph input, in order; one result per graph output. Float32 CPU.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs);
  // Single-input single-output graphs (Error otherwise).
  at::Tensor forward(const at::Tensor& input);

  // Train mode (the default): batch_norm normalizes with batch statistics and updates its
  // running statistics (momentum 0.1) unless frozen; enabled observers see every fake-quantized
  // tensor. Eval mode: running statistics, observers frozen (torch.ao's
  // move_exported_model_to_eval), fake quantization as switched.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const;
  // torch.ao's enable/disable_observer and enable/disable_fake_quant over every place of the
  // prepared model (the switches live there: PreparedModel::enable_observers / _fake_quant).
  void enable_observers(bool enabled);
  void enable_fake_quant(bool enabled);
  // Frozen: batch_norm uses (and no longer updates) its running statistics, even in train mode.
  void freeze_bn_stats(bool frozen = true);

  // Copies the trained parameters and batch-norm running statistics into the prepared model's
  // graph (PreparedModel::set_parameter_data), so convert_pt2e(prepared) sees them; observer
  // state already lives there.
  void write_back();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quantkit::torch
