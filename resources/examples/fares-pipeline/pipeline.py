"""The same pipeline as pipeline.yml, written with Trainyard's Python API:

trainyard python pipeline.py          # or: python pipeline.py, with Trainyard installed
"""

from pathlib import Path

from trainyard import Input, Output, command, pipeline

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"

prep_cmd = command(
    code=SRC,
    command="python prep.py --raw ${{inputs.raw}} --out ${{outputs.clean}}",
    inputs={"raw": Input(type="uri_folder")},
    outputs={"clean": Output(type="uri_folder")},
)
train_cmd = command(
    code=SRC,
    command="python train.py --data ${{inputs.data}} --min_km ${{inputs.min_km}} --model ${{outputs.model}}",
    inputs={"data": Input(type="uri_folder"), "min_km": 0.0},
    outputs={"model": Output(type="uri_folder")},
)
score_cmd = command(
    code=SRC,
    command="python score.py --model ${{inputs.model}} --data ${{inputs.data}} --scores ${{outputs.scores}}",
    inputs={"model": Input(type="uri_folder"), "data": Input(type="uri_folder")},
    outputs={"scores": Output(type="uri_folder")},
)


@pipeline(experiment_name="fares", default_compute="local")
def fares(raw: Input, min_km: float = 0.5) -> dict:
    """Clean the trips, fit a fare model, score it."""
    # Each step is named after its variable: prep, train, score (the names pipeline.yml gives them).
    prep = prep_cmd(raw=raw)
    train = train_cmd(data=prep.outputs.clean, min_km=min_km)
    score = score_cmd(model=train.outputs.model, data=prep.outputs.clean)
    score.display_name = "score the model"
    return {"model": train.outputs.model}


if __name__ == "__main__":
    run = fares(raw=Input(type="uri_folder", path=HERE / "data")).submit()
    print("submitted", run.id)
    run.wait_for_completion(show_output=False)
    for step in run.get_steps():
        print(step.display_name, step.get_status(), step.get_metrics())
