import { useRef, useState } from 'react';
import {
  KeyboardAvoidingView,
  Platform,
  ScrollView,
  StyleSheet,
  Text,
  TextInput,
  View,
} from 'react-native';

import {
  createCallTokenSource,
  errorMessage,
  PIN_MAX_DIGITS,
  TokenServiceError,
  validateSignIn,
  type CallCredentials,
  type CallTokenSource,
} from '../api/tokenClient';
import { Banner } from '../components/Banner';
import { PrimaryButton } from '../components/PrimaryButton';
import { colors, spacing } from '../theme';

export interface SignInScreenProps {
  tokenServiceUrl: string;
  /** The first call's credentials, and the source of a fresh token for each later call. */
  onSignedIn: (credentials: CallCredentials, tokens: CallTokenSource) => void;
  initialCustomerNumber?: string;
  /** Shown above the form, e.g. "Your sign-in has expired". */
  notice?: string | null;
  fetchImpl?: typeof fetch;
}

export function SignInScreen({
  tokenServiceUrl,
  onSignedIn,
  initialCustomerNumber = '',
  notice = null,
  fetchImpl,
}: SignInScreenProps) {
  const [customerNumber, setCustomerNumber] = useState(initialCustomerNumber);
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; kind: string } | null>(null);
  const pinRef = useRef<TextInput>(null);

  const submit = async () => {
    if (busy) return;
    const invalid = validateSignIn(customerNumber, pin);
    if (invalid) {
      setError({ message: invalid, kind: 'validation' });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const tokens = createCallTokenSource({
        baseUrl: tokenServiceUrl,
        customerNumber,
        pin,
        fetchImpl,
      });
      const credentials = await tokens.next();
      setPin('');
      setBusy(false);
      onSignedIn(credentials, tokens);
    } catch (err) {
      setError({
        message: errorMessage(err),
        kind: err instanceof TokenServiceError ? err.kind : 'server',
      });
      // A wrong PIN should be re-typed; keep the customer number.
      if (err instanceof TokenServiceError && err.kind === 'invalid_credentials') setPin('');
      setBusy(false);
    }
  };

  const locked = error?.kind === 'locked';

  return (
    <KeyboardAvoidingView
      style={styles.flex}
      behavior={Platform.OS === 'ios' ? 'padding' : undefined}
    >
      <ScrollView contentContainerStyle={styles.container} keyboardShouldPersistTaps="handled">
        <View style={styles.header}>
          <Text style={styles.title} accessibilityRole="header">
            Voice Support Desk
          </Text>
          <Text style={styles.subtitle}>
            Sign in with your customer number and telephone banking PIN to talk to our assistant.
          </Text>
        </View>

        {notice ? <Banner testID="sign-in-notice" message={notice} tone="info" /> : null}

        <View style={styles.card}>
          <Text style={styles.label} nativeID="customerNumberLabel">
            Customer number
          </Text>
          <TextInput
            testID="customer-number-input"
            accessibilityLabel="Customer number"
            accessibilityLabelledBy="customerNumberLabel"
            style={styles.input}
            value={customerNumber}
            onChangeText={setCustomerNumber}
            keyboardType="number-pad"
            autoComplete="username"
            textContentType="username"
            returnKeyType="next"
            onSubmitEditing={() => pinRef.current?.focus()}
            editable={!busy}
            placeholder="e.g. 1001"
            placeholderTextColor={colors.muted}
          />

          <Text style={styles.label} nativeID="pinLabel">
            PIN
          </Text>
          <TextInput
            ref={pinRef}
            testID="pin-input"
            accessibilityLabel="PIN"
            accessibilityLabelledBy="pinLabel"
            style={styles.input}
            value={pin}
            onChangeText={setPin}
            keyboardType="number-pad"
            secureTextEntry
            autoComplete="password"
            textContentType="password"
            returnKeyType="go"
            onSubmitEditing={() => void submit()}
            editable={!busy}
            maxLength={PIN_MAX_DIGITS}
            placeholder="••••"
            placeholderTextColor={colors.muted}
          />

          {error ? (
            <Banner
              testID="sign-in-error"
              message={error.message}
              tone={locked ? 'warning' : 'error'}
            />
          ) : null}

          <PrimaryButton
            testID="sign-in-button"
            label={busy ? 'Signing in…' : 'Sign in and call'}
            busy={busy}
            onPress={() => void submit()}
          />
        </View>

        <Text style={styles.footer}>
          We will never ask for your full card number or online banking password during a call.
        </Text>
      </ScrollView>
    </KeyboardAvoidingView>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  container: {
    flexGrow: 1,
    justifyContent: 'center',
    padding: spacing(6),
    gap: spacing(5),
  },
  header: { gap: spacing(2) },
  title: { fontSize: 28, fontWeight: '700', color: colors.brand },
  subtitle: { fontSize: 15, lineHeight: 22, color: colors.muted },
  card: {
    backgroundColor: colors.surface,
    borderRadius: 16,
    padding: spacing(5),
    gap: spacing(3),
    borderWidth: 1,
    borderColor: colors.border,
  },
  label: { fontSize: 14, fontWeight: '600', color: colors.text },
  input: {
    borderWidth: 1,
    borderColor: colors.border,
    borderRadius: 10,
    paddingHorizontal: spacing(3),
    paddingVertical: spacing(3),
    fontSize: 18,
    color: colors.text,
    backgroundColor: colors.background,
  },
  footer: { fontSize: 12, color: colors.muted, textAlign: 'center' },
});
