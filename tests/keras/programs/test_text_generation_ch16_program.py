"""Deep Learning with Python, 3rd edition, chapter 16 (text generation), the parts that lean on
`keras.config` and `keras.optimizers.schedules`, re-stated in the book's style with only the imports changed
(`K` is Keras 3 or lstmkit.keras): a word-level language model trained on windows of vectorized text to predict
the next token at every position, `keras.config` calls (dtype policy, interactive logging), an Adam whose
rate warms up linearly and then follows a cosine (`CosineDecay(..., warmup_target=, warmup_steps=)`, and the
chapter's own `LearningRateSchedule` subclass for comparison), training, saving and reloading with its
schedule, and generation by sampling with a temperature. The book's model is a small Transformer; the
stand-in here is an LSTM (this is a recurrent-network kit), the rest of the program is the book's shape. The
text is a slice of real IMDB reviews (the book uses them too)."""

import numpy as np
import pytest

from tests.keras.conftest import keras_with_tensorflow
from tests.keras.programs.real_data import reviews

vocab_size = 400
sequence_length = 16
batch_size = 32
num_epochs = 3


@pytest.fixture(scope="module")
def text():
    return [t.replace("<br />", " ").lower() for t, _ in reviews("train", 5)]


def _windows(tokens):
    """Every (sequence_length + 1)-token window of the token stream, cut into inputs and next-token targets."""
    ends = range(sequence_length + 1, len(tokens), sequence_length // 2)
    windows = np.stack([tokens[e - sequence_length - 1:e] for e in ends])
    return windows[:, :-1], windows[:, 1:]


def test_chapter16_language_model_with_warmup_cosine_schedule(K, text, tmp_path):
    if not K.__name__.startswith("lstmkit"):
        keras_with_tensorflow()  # Keras' TextVectorization needs TensorFlow; lstmkit's does not
    keras = K
    layers = K.layers
    keras.utils.set_random_seed(42)
    assert keras.config.backend() == "torch"
    keras.config.set_dtype_policy("float32")  # the book: "mixed_float16" on a GPU
    keras.config.disable_interactive_logging()
    try:
        text_vectorization = layers.TextVectorization(max_tokens=vocab_size, output_mode="int")
        text_vectorization.adapt(text)
        vocabulary = text_vectorization.get_vocabulary()
        tokens = np.concatenate([np.asarray(text_vectorization([t]))[0] for t in text])
        tokens = tokens[tokens > 0]
        x, y = _windows(tokens)
        split = int(len(x) * 0.8)
        x_train, y_train, x_val, y_val = x[:split], y[:split], x[split:], y[split:]

        steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
        total_steps = steps_per_epoch * num_epochs
        warmup_steps = steps_per_epoch
        lr_schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0, decay_steps=total_steps - warmup_steps, warmup_target=5e-3,
            warmup_steps=warmup_steps)

        class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
            """The chapter's hand-written schedule: a line up to the peak rate, then constant."""

            def __init__(self, peak, warmup_steps):
                self.peak, self.warmup_steps = peak, warmup_steps

            def __call__(self, step):
                step = float(np.asarray(step))
                return self.peak * min(step / self.warmup_steps, 1.0)

        by_hand = WarmupSchedule(5e-3, warmup_steps)
        for step in (0, warmup_steps // 2, warmup_steps):
            assert float(np.asarray(lr_schedule(step))) == pytest.approx(by_hand(step), rel=1e-5, abs=1e-9)

        inputs = keras.Input(shape=(None,), dtype="int64")
        h = layers.Embedding(vocab_size, 32, mask_zero=True)(inputs)
        h = layers.LSTM(32, return_sequences=True)(h)
        outputs = layers.Dense(vocab_size)(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(lr_schedule),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=num_epochs,
                            validation_data=(x_val, y_val), verbose=1)
        losses = history.history["loss"]
        assert losses[-1] < losses[0] < np.log(vocab_size) + 0.5
        assert history.history["val_accuracy"][-1] > 0.05  # the most frequent words at least
        assert int(np.asarray(model.optimizer.iterations)) == total_steps
        # at the end of the cosine the rate is back at alpha * target = 0
        assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.0, abs=1e-9)

        model.save(tmp_path / "lm.keras")
        reloaded = keras.models.load_model(tmp_path / "lm.keras")
        assert type(reloaded.optimizer._learning_rate).__name__ == "CosineDecay"
        assert reloaded.optimizer._learning_rate.get_config() == lr_schedule.get_config()
        np.testing.assert_allclose(np.asarray(reloaded.predict(x_val[:4], verbose=0)),
                                   np.asarray(model.predict(x_val[:4], verbose=0)), rtol=1e-5, atol=1e-5)

        def sample_next(logits, temperature):
            logits = np.asarray(logits, dtype="float64") / temperature
            probs = np.exp(logits - logits.max())
            return np.random.choice(len(probs), p=probs / probs.sum())

        np.random.seed(0)
        prompt = list(x_val[0][:8])
        for temperature in (0.5, 1.0):
            generated = list(prompt)
            for _ in range(10):
                logits = reloaded.predict(np.array([generated]), verbose=0)[0, -1]
                generated.append(sample_next(logits, temperature))
            words = [vocabulary[i] for i in generated[len(prompt):]]
            assert len(words) == 10 and all(isinstance(w, str) for w in words)
    finally:
        keras.config.enable_interactive_logging()
        keras.config.set_dtype_policy("float32")
