"""keras-io's examples/nlp/lstm_seq2seq.py (character-level sequence to sequence), small: an encoder LSTM
with return_state=True, a decoder LSTM started from its [h, c] through initial_state, a Model of two named
Inputs fit on a dict keyed by the Input names, saved and loaded, then the example's inference models cut out
of the loaded model (model.input[0], model.layers[2].output). The English-French pairs are not in the data
folder, so the pairs are real EWT sentences and the first letters of their UPOS tags. Runs on Keras 3 and
lstmkit.keras through `K`."""

import numpy as np
import pytest

from tests.keras.programs.real_data import ewt_pairs

latent_dim = 32


def vectorize(pairs):
    input_texts = [p[0] for p in pairs]
    target_texts = ["\t" + p[1] + "\n" for p in pairs]
    input_characters = sorted(set("".join(input_texts)) | {" "})
    target_characters = sorted(set("".join(target_texts)) | {" "})
    max_encoder_seq_length = max(len(t) for t in input_texts)
    max_decoder_seq_length = max(len(t) for t in target_texts)
    input_token_index = {c: i for i, c in enumerate(input_characters)}
    target_token_index = {c: i for i, c in enumerate(target_characters)}
    n = len(pairs)
    encoder_input_data = np.zeros((n, max_encoder_seq_length, len(input_characters)), dtype="float32")
    decoder_input_data = np.zeros((n, max_decoder_seq_length, len(target_characters)), dtype="float32")
    decoder_target_data = np.zeros((n, max_decoder_seq_length, len(target_characters)), dtype="float32")
    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts, strict=True)):
        for t, char in enumerate(input_text):
            encoder_input_data[i, t, input_token_index[char]] = 1.0
        encoder_input_data[i, t + 1:, input_token_index[" "]] = 1.0
        for t, char in enumerate(target_text):
            decoder_input_data[i, t, target_token_index[char]] = 1.0
            if t > 0:
                decoder_target_data[i, t - 1, target_token_index[char]] = 1.0
        decoder_input_data[i, t + 1:, target_token_index[" "]] = 1.0
        decoder_target_data[i, t:, target_token_index[" "]] = 1.0
    return encoder_input_data, decoder_input_data, decoder_target_data, target_token_index


@pytest.fixture(scope="module")
def data():
    return vectorize(ewt_pairs(200))


def test_seq2seq_on_named_inputs_trains_saves_and_decodes(K, data, tmp_path):
    encoder_input_data, decoder_input_data, decoder_target_data, target_token_index = data
    num_encoder_tokens, num_decoder_tokens = encoder_input_data.shape[-1], decoder_input_data.shape[-1]
    K.utils.set_random_seed(0)
    encoder_inputs = K.Input(shape=(None, num_encoder_tokens), name="encoder_inputs")
    encoder = K.layers.LSTM(latent_dim, return_state=True)
    _encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = K.Input(shape=(None, num_decoder_tokens), name="decoder_inputs")
    decoder_lstm = K.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = K.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = K.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    inputs = {"encoder_inputs": encoder_input_data, "decoder_inputs": decoder_input_data}
    history = model.fit(inputs, decoder_target_data, batch_size=32, epochs=4, validation_split=0.2,
                        verbose=0).history
    assert history["loss"][-1] < history["loss"][0] and len(history["val_loss"]) == 4
    by_list = np.asarray(model.predict([encoder_input_data[:8], decoder_input_data[:8]], verbose=0))
    by_name = np.asarray(model.predict({k: v[:8] for k, v in inputs.items()}, verbose=0))
    np.testing.assert_array_equal(by_name, by_list)
    assert by_list.shape == (8, *decoder_target_data.shape[1:])

    model.save(tmp_path / "s2s_model.keras")
    model = K.models.load_model(tmp_path / "s2s_model.keras")
    np.testing.assert_allclose(np.asarray(model.predict(inputs, verbose=0)[:8]), by_list, rtol=1e-6, atol=1e-7)
    encoder_inputs = model.input[0]
    _encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = K.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    decoder_state_input_h = K.Input(shape=(latent_dim,))
    decoder_state_input_c = K.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
    decoder_outputs = model.layers[4](decoder_outputs)
    decoder_model = K.Model([decoder_inputs, *decoder_states_inputs], [decoder_outputs, state_h_dec, state_c_dec])

    # step-by-step decoding fed the teacher's characters gives the training model's outputs
    states_value = [np.asarray(s) for s in encoder_model.predict(encoder_input_data[:1], verbose=0)]
    assert [s.shape for s in states_value] == [(1, latent_dim), (1, latent_dim)]
    for t in range(5):
        output_tokens, h, c = decoder_model.predict([decoder_input_data[:1, t:t + 1], *states_value], verbose=0)
        np.testing.assert_allclose(np.asarray(output_tokens)[0, 0], by_list[0, t], rtol=1e-5, atol=1e-6)
        states_value = [np.asarray(h), np.asarray(c)]
    # and the example's greedy decoding loop runs to its stop condition on characters of the vocabulary
    reverse_target_char_index = {i: c for c, i in target_token_index.items()}
    states_value = [np.asarray(s) for s in encoder_model.predict(encoder_input_data[1:2], verbose=0)]
    target_seq = np.zeros((1, 1, num_decoder_tokens))
    target_seq[0, 0, target_token_index["\t"]] = 1.0
    decoded_sentence = ""
    while True:
        output_tokens, h, c = decoder_model.predict([target_seq, *states_value], verbose=0)
        sampled_token_index = int(np.argmax(np.asarray(output_tokens)[0, -1, :]))
        sampled_char = reverse_target_char_index[sampled_token_index]
        decoded_sentence += sampled_char
        if sampled_char == "\n" or len(decoded_sentence) > decoder_target_data.shape[1]:
            break
        target_seq = np.zeros((1, 1, num_decoder_tokens))
        target_seq[0, 0, sampled_token_index] = 1.0
        states_value = [np.asarray(h), np.asarray(c)]
    assert 1 <= len(decoded_sentence) <= decoder_target_data.shape[1] + 1
