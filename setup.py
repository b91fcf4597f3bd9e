"""transformers-videorefer: VideoRefer (object-level video LLM) on the Hugging Face stack."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="transformers-videorefer",
    version="0.1.0",
    description="VideoRefer, the video LLM that answers questions about masked objects, for transformers 5.",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={
        "transformers_videorefer.models.videorefer": ["chat_template.jinja"],
        "transformers_videorefer.models.videorefer_vl3": ["chat_template.jinja"],
    },
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "transformers>=5.24,<6",
        "accelerate>=1.10",
        "trl>=1.16,<2",
        "peft>=0.17",
        "datasets>=3.0",
        "safetensors>=0.4",
        "huggingface-hub>=1.0",
        "decord>=0.6",
        "pycocotools>=2.0.7",
        "numpy>=1.24",
        "pillow>=10.0",
        "tqdm>=4.66",
        "matplotlib>=3.7",
        "pyyaml>=6.0",
    ],
    extras_require={
        "test": ["pytest>=8", "hypothesis>=6.100", "pytest-timeout>=2.3", "playwright>=1.40", "parameterized>=0.9"],
        "flash": ["flash-attn>=2.6"],
        "deepspeed": ["deepspeed>=0.16"],
        "demo": ["gradio>=5", "av>=12"],
        "video": ["av>=12"],  # PyAV: `videorefer overlay ... --out clip.mp4`
    },
    entry_points={"console_scripts": ["videorefer=transformers_videorefer.cli:main"]},
)
