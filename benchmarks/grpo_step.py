"""One GRPO step at the released scale on one GPU, split into generation, reward and update.

Architectures, built from configs with random weights (real cost, meaningless outputs):

* policy: Qwen2.5-VL-3B-Instruct (text 2048 wide x 36 layers, vocabulary 151,936; vision tower
  1280 wide x 32 blocks), bf16, SDPA attention (``--attn flash_attention_2`` if installed);
* segmenter: SAM2.1 hiera-large (1024 px), bf16 (``--sam-dtype``).

A step is the released recipe's micro-step on one device: ``--prompts`` prompts (1) x G
(``--num-generations``, 4) completions, images S x S (768; the Qwen processor makes that 756 px,
729 image tokens), ``--max-new-tokens`` 400. Random weights never stop early, and
``min_new_tokens`` makes every completion use the full budget: the worst case the recipe allows.

* generation: ``policy.generate`` (sampling, temperature 1, top-p 1), the transformers path TRL
  takes without vLLM;
* reward: the project's rewards (``segr1.rewards.build_rewards``: format + segmentation: one SAM2
  embedding per image, one batched decode for its G answers, IoU and S-measure at S x S). Text
  from random weights never parses, so each completion's answer is drawn like a trained
  policy's (1-2 boxes, 3-8 labelled points) - otherwise SAM2 would never run;
* update: what TRL does after scoring: reference-model log-probs (beta 0.04), one policy
  forward + backward over prompt + completion (GRPO loss with the k3 KL estimator, gradient
  checkpointing) and an AdamW step. Parameters and optimizer states are bf16 here (one GPU;
  the released runs used DeepSpeed ZeRO-1 across six). ``--lora``: LoRA adapters (peft, rank
  16, the language model's q/k/v/o projections, as ``use_peft: true`` in training) are trained
  instead, and the reference is the policy with its adapters disabled (no second model).

Timings: ``--warmup`` untimed steps, then mean and spread over ``--steps``, with
``torch.cuda.synchronize()`` around each phase. The tokenizer is the project's offline one (no
downloads); it only encodes the prompt, so the vocabulary size of the model is the real one.

Run: ``python benchmarks/grpo_step.py [--steps 3]`` (needs CUDA; ``--scale tiny --device cpu``
runs the same code with the tiny architectures, to check the script without a GPU).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import archs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3, help="timed steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--prompts", type=int, default=1, help="prompts per step (one image each)")
    p.add_argument("--num-generations", type=int, default=4, help="G: completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=400, help="completion length")
    p.add_argument("--side", type=int, default=768, help="S: the square the policy sees")
    p.add_argument("--beta", type=float, default=0.04, help="KL weight (0: no reference model)")
    p.add_argument("--lr", type=float, default=1e-6, help="AdamW learning rate")
    p.add_argument("--attn", default="sdpa", help="policy attention implementation")
    p.add_argument("--sam-dtype", default="bfloat16", choices=["float32", "bfloat16"])
    p.add_argument("--no-checkpointing", action="store_true", help="no gradient checkpointing")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters, not all weights")
    p.add_argument(
        "--scale",
        choices=["released", "tiny"],
        default="released",
        help="released: Qwen2.5-VL-3B + SAM2.1-large; tiny: the test-size models",
    )
    p.add_argument("--device", default="cuda", help="cuda (released scale) or cpu (tiny only)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            p.exit(
                2,
                "grpo_step.py: no CUDA device; this benchmark needs a GPU (use "
                "--scale tiny --device cpu only to check the script)\n",
            )
    elif args.scale == "released":
        p.exit(2, "grpo_step.py: the released scale runs on a GPU only (--device cuda)\n")
    return args


def build_policy(args: argparse.Namespace):  # -> (model, processor)
    """The policy architecture with random weights, and a processor with the offline tokenizer."""
    return archs.build_policy(
        "3b" if args.scale == "released" else "tiny", args.device, args.attn, args.seed
    )


def build_segmenter(args: argparse.Namespace):  # -> Sam2Segmenter
    arch = "hiera-large" if args.scale == "released" else "test-tiny"
    dtype = args.sam_dtype if args.device.startswith("cuda") else "float32"
    return archs.build_sam2(arch, seed=args.seed, device=args.device, dtype=dtype)


class Step:
    """Everything one step needs, built once: policy, reference, optimizer, rewards, inputs."""

    def __init__(self, args: argparse.Namespace) -> None:
        import copy

        import torch
        from PIL import Image

        from segr1.protocol.templates import Template
        from segr1.rewards import build_rewards

        self.args = args
        self.rng = np.random.default_rng(args.seed)
        self.policy, self.processor = build_policy(args)
        if not args.no_checkpointing:
            self.policy.gradient_checkpointing_enable()
        self.policy.config.use_cache = True
        if args.lora:
            from peft import LoraConfig, get_peft_model

            self.policy.enable_input_require_grads()  # checkpointing with frozen embeddings
            lora = LoraConfig(
                r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            )  # fmt: skip
            self.policy = get_peft_model(self.policy, lora)
            self.reference = None  # the policy with its adapters disabled
        else:
            self.reference = copy.deepcopy(self.policy).eval().requires_grad_(False)
        trainable = [q for q in self.policy.parameters() if q.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
        self.rewards = build_rewards(build_segmenter(args), args.side)
        s = args.side
        self.images = [
            Image.fromarray(self.rng.integers(0, 256, (s, s, 3), dtype=np.uint8))
            for _ in range(args.prompts)
        ]
        mask = np.zeros((s, s), np.uint8)
        mask[s // 4 : 3 * s // 4, s // 3 : 2 * s // 3] = 255
        self.masks = [Image.fromarray(mask)] * args.prompts
        prompt = self.processor.apply_chat_template(
            Template("foreground").messages(), add_generation_prompt=True, tokenize=False
        )
        g = args.num_generations
        self.inputs = self.processor(
            text=[prompt] * (args.prompts * g),
            images=[im for im in self.images for _ in range(g)],
            return_tensors="pt",
            padding=True,
        ).to(args.device)

    def generate(self):  # -> (B*G, P + T) token ids
        import torch

        n = self.args.max_new_tokens
        self.policy.eval()
        with torch.inference_mode():
            out = self.policy.generate(
                **self.inputs,
                do_sample=True,
                temperature=1.0,
                top_p=1.0,
                top_k=0,
                max_new_tokens=n,
                min_new_tokens=n,
            )
        return out.clone()

    def reward(self) -> list[float]:
        g = self.args.num_generations
        completions = [
            archs.answer_text(self.args.side, self.rng) for _ in self.images for _ in range(g)
        ]
        kw = {
            "image": [im for im in self.images for _ in range(g)],
            "mask": [m for m in self.masks for _ in range(g)],
        }
        parts = [f(prompts=None, completions=completions, **kw) for f in self.rewards]
        return [sum(p) for p in zip(*parts, strict=True)]

    def update(self, sequences, rewards: list[float]) -> float:
        import torch

        g = self.args.num_generations
        r = torch.tensor(rewards, device=sequences.device).view(-1, g)
        adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1, 1)
        n_prompt = self.inputs["input_ids"].shape[1]
        feed = dict(self.inputs)
        feed["input_ids"] = sequences
        feed["attention_mask"] = torch.ones_like(sequences)
        if "mm_token_type_ids" in feed:  # per-token modality ids: completion tokens are text (0)
            pad = sequences.shape[1] - n_prompt
            feed["mm_token_type_ids"] = torch.nn.functional.pad(feed["mm_token_type_ids"], (0, pad))
        targets = sequences[:, n_prompt:]  # (B*G, T)

        def token_logps(model) -> torch.Tensor:
            logits = model(**feed).logits[:, n_prompt - 1 : -1].float()  # (B*G, T, V)
            return torch.log_softmax(logits, -1).gather(2, targets[..., None]).squeeze(2)

        self.policy.train()
        ref = None
        if self.args.beta:
            with torch.no_grad():
                if self.reference is None:
                    with self.policy.disable_adapter():
                        ref = token_logps(self.policy)
                else:
                    ref = token_logps(self.reference)
        logps = token_logps(self.policy)  # (B*G, T)
        loss_tok = -torch.exp(logps - logps.detach()) * adv
        if ref is not None:
            loss_tok = loss_tok + self.args.beta * (torch.exp(ref - logps) - (ref - logps) - 1)
        loss = loss_tok.mean(1).mean()  # per-sequence mean, as loss_type="grpo"
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()


def timed(fn: Callable[[], object], device: str) -> tuple[float, object]:
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def run(args: argparse.Namespace) -> dict[str, list[float]]:
    from tqdm import tqdm

    step = Step(args)
    times: dict[str, list[float]] = {"generation": [], "reward": [], "update": [], "step": []}
    for i in tqdm(range(args.warmup + args.steps), desc="GRPO steps"):
        t_gen, seqs = timed(step.generate, args.device)
        t_rew, rewards = timed(step.reward, args.device)
        t_upd, _ = timed(lambda: step.update(seqs, rewards), args.device)  # noqa: B023
        if i >= args.warmup:
            for k, v in zip(times, (t_gen, t_rew, t_upd, t_gen + t_rew + t_upd), strict=True):
                times[k].append(v)
    times["_params"] = [sum(p.numel() for p in step.policy.parameters()) / 1e9]
    times["_trainable"] = [sum(p.numel() for p in step.optimizer.param_groups[0]["params"]) / 1e9]
    times["_prompt_tokens"] = [float(step.inputs["input_ids"].shape[1])]
    return times


def report(args: argparse.Namespace, times: dict[str, list[float]]) -> str:
    import torch
    import transformers

    cuda = args.device.startswith("cuda")
    dev = torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.machine()})"
    arch = "architectures" if args.scale == "released" else "TINY stand-ins (script check only)"
    b = args.prompts * args.num_generations
    lines = [
        f"policy: Qwen2.5-VL-3B, segmenter: SAM2.1 hiera-large: {arch}, random weights "
        f"({times['_params'][0]:.2f} B policy parameters, {times['_trainable'][0]:.3f} B trained"
        f"{', LoRA' if args.lora else ', all weights'})",
        f"{args.prompts} prompt(s) x G={args.num_generations} = {b} completions of "
        f"{args.max_new_tokens} tokens; prompt {times['_prompt_tokens'][0]:.0f} tokens; S={args.side}",
        f"device: {dev}; torch {torch.__version__}, transformers {transformers.__version__}",
        "",
        f"{'phase':<12}{'mean s':>10}{'min s':>10}{'max s':>10}{'share':>9}",
    ]
    total = statistics.mean(times["step"])
    for k in ("generation", "reward", "update", "step"):
        v = times[k]
        lines.append(
            f"{k:<12}{statistics.mean(v):>10.3f}{min(v):>10.3f}{max(v):>10.3f}"
            f"{statistics.mean(v) / total:>9.1%}"
        )
    lines += ["", *archs.footer(args.device)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    archs.run_main(parse_args, run, report, argv)


if __name__ == "__main__":
    main()
